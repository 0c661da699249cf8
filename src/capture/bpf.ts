/**
 * A classic BPF interpreter (the filter language of tcpdump, as compiled by
 * `tcpdump -ddd`), so `vde capture --filter` runs the same program the
 * kernel would, in the switch's capture path.
 *
 * Theory of operation. `parseBpf` reads tcpdump's decimal listing (a count,
 * then `code jt jf k` per line) and checks the program once: every opcode
 * known, every jump inside the program, the last instruction a return. So
 * `runBpf` can run without checks beyond packet bounds: a load past the
 * packet's end returns 0 (no match), as the kernel does. Programs only jump
 * forward, so a run is bounded by the program's length.
 */

/** One instruction: opcode, jump-if-true, jump-if-false, constant. */
export interface BpfInstruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** A checked program, stored flat for a fast run. */
export interface BpfProgram {
  readonly code: Uint16Array;
  readonly jt: Uint8Array;
  readonly jf: Uint8Array;
  readonly k: Uint32Array;
}

const BPF_MAXINSNS = 4096;
const MEMWORDS = 16;

// Classes and modes, as in linux/filter.h.
const LD = 0x00, LDX = 0x01, ST = 0x02, STX = 0x03, ALU = 0x04, JMP = 0x05, RET = 0x06, MISC = 0x07;
const W = 0x00, H = 0x08, B = 0x10;
const IMM = 0x00, ABS = 0x20, IND = 0x40, MEM = 0x60, LEN = 0x80, MSH = 0xa0;
const X = 0x08;

const VALID = new Set<number>();
for (const size of [W, H, B]) for (const mode of [ABS, IND]) VALID.add(LD | size | mode);
VALID.add(LD | W | IMM).add(LD | W | MEM).add(LD | W | LEN);
VALID.add(LDX | W | IMM).add(LDX | W | MEM).add(LDX | W | LEN).add(LDX | B | MSH);
VALID.add(ST).add(STX);
for (const op of [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0]) {
  VALID.add(ALU | op | 0).add(ALU | op | X);
}
VALID.add(ALU | 0x80); // neg
VALID.add(JMP | 0x00);
for (const op of [0x10, 0x20, 0x30, 0x40]) VALID.add(JMP | op | 0).add(JMP | op | X);
VALID.add(RET | 0x00).add(RET | 0x10).add(RET | 0x08);
VALID.add(MISC | 0x00).add(MISC | 0x80);

/**
 * Reads and checks a program in `tcpdump -ddd` form.
 *
 * @throws Error naming the first bad line
 */
export function parseBpf(text: string): BpfProgram {
  const lines = text.trim().split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const count = Number(lines[0]);
  if (!Number.isInteger(count) || count < 1 || count > BPF_MAXINSNS || lines.length !== count + 1) {
    throw new Error("not a BPF program: expected a count and that many instructions");
  }
  const insns: BpfInstruction[] = [];
  for (let i = 1; i <= count; i++) {
    const f = lines[i]!.split(/\s+/).map(Number);
    if (f.length !== 4 || !f.every((n) => Number.isInteger(n) && n >= 0)) {
      throw new Error(`BPF instruction ${i - 1} is not four numbers: ${lines[i]}`);
    }
    insns.push({ code: f[0]!, jt: f[1]!, jf: f[2]!, k: f[3]! >>> 0 });
  }
  return compileBpf(insns);
}

/** Checks instructions and stores them flat; throws on an invalid program. */
export function compileBpf(insns: BpfInstruction[]): BpfProgram {
  const n = insns.length;
  if (n < 1 || n > BPF_MAXINSNS) throw new Error(`a BPF program has 1 to ${BPF_MAXINSNS} instructions`);
  const program = {
    code: new Uint16Array(n),
    jt: new Uint8Array(n),
    jf: new Uint8Array(n),
    k: new Uint32Array(n),
  };
  insns.forEach((insn, pc) => {
    const { code, jt, jf, k } = insn;
    if (!VALID.has(code)) throw new Error(`BPF instruction ${pc}: unknown opcode ${code}`);
    const cls = code & 0x07;
    if (cls === JMP) {
      const far = (code & 0xf0) === 0;
      if (far ? pc + 1 + k >= n : pc + 1 + Math.max(jt, jf) >= n || jt > 255 || jf > 255) {
        throw new Error(`BPF instruction ${pc}: jump out of the program`);
      }
    }
    if ((cls === ST || cls === STX || (code & 0xe0) === MEM) && k >= MEMWORDS) {
      throw new Error(`BPF instruction ${pc}: scratch memory index ${k} out of range`);
    }
    if (cls === ALU && (code & 0x08) === 0 && ((code & 0xf0) === 0x30 || (code & 0xf0) === 0x90) && k === 0) {
      throw new Error(`BPF instruction ${pc}: division by zero`);
    }
    program.code[pc] = code;
    program.jt[pc] = jt;
    program.jf[pc] = jf;
    program.k[pc] = k;
  });
  if ((insns[n - 1]!.code & 0x07) !== RET) throw new Error("a BPF program must end with a return");
  return program;
}

const mem = new Uint32Array(MEMWORDS);

/**
 * Runs a checked program on a packet of `wireLength` bytes of which `data`
 * holds the first ones.
 *
 * @returns how many bytes to keep: 0 drops the packet
 */
export function runBpf(program: BpfProgram, data: Uint8Array, wireLength = data.length): number {
  const { code, jt, jf, k } = program;
  const len = data.length;
  let a = 0, x = 0;
  mem.fill(0);
  for (let pc = 0; pc < code.length; pc++) {
    const c = code[pc]!, kk = k[pc]!;
    switch (c & 0x07) {
      case LD:
      case LDX: {
        const mode = c & 0xe0;
        let v: number;
        if (mode === IMM) v = kk;
        else if (mode === LEN) v = wireLength;
        else if (mode === MEM) v = mem[kk]!;
        else if (mode === MSH) {
          if (kk >= len) return 0;
          v = (data[kk]! & 0x0f) << 2;
        } else {
          const at = mode === IND ? (x + kk) >>> 0 : kk;
          const size = c & 0x18;
          const bytes = size === W ? 4 : size === H ? 2 : 1;
          if (at + bytes > len) return 0;
          v = bytes === 1
            ? data[at]!
            : bytes === 2
            ? (data[at]! << 8) | data[at + 1]!
            : ((data[at]! << 24) | (data[at + 1]! << 16) | (data[at + 2]! << 8) | data[at + 3]!) >>> 0;
        }
        if ((c & 0x07) === LD) a = v >>> 0;
        else x = v >>> 0;
        break;
      }
      case ST:
        mem[kk] = a;
        break;
      case STX:
        mem[kk] = x;
        break;
      case ALU: {
        const op = c & 0xf0;
        const v = (c & X) !== 0 ? x : kk;
        switch (op) {
          case 0x00:
            a = (a + v) >>> 0;
            break;
          case 0x10:
            a = (a - v) >>> 0;
            break;
          case 0x20:
            a = Math.imul(a, v) >>> 0;
            break;
          case 0x30:
            if (v === 0) return 0;
            a = Math.floor(a / v) >>> 0;
            break;
          case 0x40:
            a = (a | v) >>> 0;
            break;
          case 0x50:
            a = (a & v) >>> 0;
            break;
          case 0x60:
            a = v >= 32 ? 0 : (a << v) >>> 0;
            break;
          case 0x70:
            a = v >= 32 ? 0 : a >>> v;
            break;
          case 0x80:
            a = (-a) >>> 0;
            break;
          case 0x90:
            if (v === 0) return 0;
            a = (a % v) >>> 0;
            break;
          case 0xa0:
            a = (a ^ v) >>> 0;
            break;
        }
        break;
      }
      case JMP: {
        const op = c & 0xf0;
        if (op === 0x00) {
          pc += kk;
          break;
        }
        const v = (c & X) !== 0 ? x : kk;
        const taken = op === 0x10 ? a === v : op === 0x20 ? a > v : op === 0x30 ? a >= v : (a & v) !== 0;
        pc += taken ? jt[pc]! : jf[pc]!;
        break;
      }
      case RET:
        return (c & 0x18) === 0x10 ? a : (c & 0x18) === 0x08 ? x : kk;
      case MISC:
        if ((c & 0xf8) === 0) x = a;
        else a = x;
        break;
    }
  }
  return 0;
}
