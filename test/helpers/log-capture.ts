/**
 * A pino logger whose lines the test reads back (parsed), for what the proxy logs.
 */
import pino, { type Logger } from 'pino'

/** One parsed log line: pino's level number, the message, and the fields logged with it. */
export type LogLine = { level: number; msg: string } & Record<string, unknown>

/** A logger at `info` and the lines it wrote so far. */
export function captureLog(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as LogLine) })
  return { logger, lines }
}
