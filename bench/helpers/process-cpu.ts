/**
 * CPU time of benchmark servers from /proc (Linux): per-request CPU does not depend on whether the
 * load generator or the server limited a round, so it steadies ratios that requests/s leaves noisy.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`; 100 on Linux). */
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100

/**
 * CPU seconds used so far by a process and its children (node:cluster workers), from /proc;
 * undefined where there is no /proc (macOS).
 */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined
  const children =
    spawnSync('pgrep', ['-P', String(pid)])
      .stdout?.toString()
      .split('\n')
      .filter(Boolean) ?? []
  let ticks = 0
  for (const id of [String(pid), ...children]) {
    try {
      // Fields 14 and 15 (utime, stime), counted after the command name, which may hold spaces.
      const stat = readFileSync(`/proc/${id}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      ticks += Number(fields[11]) + Number(fields[12])
    } catch {
      if (id === String(pid)) return undefined
    }
  }
  return ticks / CLOCK_TICKS
}
