/** `tiercache/stock`: an atomic flash-sale stock counter over HTTP (one Lua script per operation). */
export {
  createStock,
  type GiveOptions,
  type Stock,
  type StockOptions,
  type TakeOptions,
  type TakeResult,
} from './stock.js'
