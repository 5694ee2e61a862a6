/**
 * `tiercache/queue`: a work queue on Redis Streams over HTTP (consumer groups, reclaiming,
 * dead letters), at-least-once.
 */
export {
  type ConsumeOptions,
  checkDrainOptions,
  createQueue,
  type DeadLetter,
  type DrainOptions,
  type DrainSummary,
  type Queue,
  type QueueMessage,
  type QueueOptions,
  type QueueStats,
} from './queue.js'
