'use strict';
// The CPU a runtime's processes have used, read from /proc (Linux only): the benchmarks start
// workerd through Miniflare and find its processes as this process's new descendants.

const fs = require('node:fs');

/** PIDs of every descendant of this process, from /proc. */
function descendants() {
  const children = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(entry);
    if (!stat) continue;
    if (!children.has(stat.ppid)) children.set(stat.ppid, []);
    children.get(stat.ppid).push(Number(entry));
  }
  const found = [];
  const queue = [process.pid];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** ppid and user+sys ticks of /proc/<pid>/stat (all threads, living and exited); null if gone. */
function readStat(pid) {
  let text;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Fields after the command name (which may hold spaces) start at field 3, "state".
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]), name: text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')) };
}

/** Nanoseconds on CPU of the living threads of `pid` (schedstat), a finer clock than ticks. */
function schedNs(pid) {
  let total = 0;
  let tasks;
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const task of tasks) {
    try {
      total += Number(fs.readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended
    }
  }
  return total;
}

/** User+sys ticks (stat) and nanoseconds on CPU (schedstat) of these processes so far. */
function cpuOf(pids) {
  let ticks = 0;
  let ns = 0;
  for (const pid of pids) {
    ticks += readStat(pid)?.ticks ?? 0;
    ns += schedNs(pid);
  }
  return { ticks, ns };
}

module.exports = { descendants, readStat, schedNs, cpuOf };
