import { readFileSync, readdirSync, readlinkSync } from 'fs';

/** A TCP socket in the LISTEN state, and the address it is bound to. */
export interface ListeningSocket {
  readonly pid: number;
  /** `127.0.0.1`, `0.0.0.0` (every IPv4 interface), `::` (every interface), ... */
  readonly address: string;
  readonly port: number;
}

/** `pid` and every process below it. */
function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (command) state ppid ...": the command may hold spaces and parentheses.
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []));
  return tree;
}

/** The socket inodes a process holds open. */
function socketInodes(pid: number): string[] {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  return fds.flatMap((fd) => {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      return match ? [match[1]] : [];
    } catch {
      return [];
    }
  });
}

/** An address as /proc/net/tcp{,6} writes it: 32-bit words in hex, each in host (little-endian) byte order. */
function decodeAddress(hex: string): string {
  const bytes = (hex.match(/.{8}/g) ?? []).flatMap((word) => (word.match(/../g) ?? []).reverse());
  const octets = bytes.map((byte) => parseInt(byte, 16));
  if (octets.length === 4) return octets.join('.');
  if (octets.every((octet) => octet === 0)) return '::';
  const groups = Array.from({ length: 8 }, (_, i) => ((octets[2 * i] << 8) | octets[2 * i + 1]).toString(16));
  return groups.join(':');
}

/**
 * Every TCP socket `pid` and its descendant processes listen on (Linux only: it reads /proc), so a test can see
 * which addresses the servers a run started are reachable on.
 */
export function listeningSockets(pid: number): ListeningSocket[] {
  const owners = new Map<string, number>();
  for (const member of processTree(pid)) for (const inode of socketInodes(member)) owners.set(inode, member);
  const sockets: ListeningSocket[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').trim().split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [local, state, inode] = [fields[1], fields[3], fields[9]];
      const owner = owners.get(inode);
      if (state !== '0A' || owner === undefined) continue; // 0A: LISTEN
      const [address, port] = local.split(':');
      sockets.push({ pid: owner, address: decodeAddress(address), port: parseInt(port, 16) });
    }
  }
  return sockets;
}
