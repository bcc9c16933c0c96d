/**
 * Activations rounded as llama.cpp quantizes them for its int8 dot products (and as our Q8_0 int8
 * path does, native/kernels/cpu/quant.h): in blocks of 32, step d = max|x| / 127, each value
 * rounded to the nearest multiple of d (ties to even). Written from that definition, in float64.
 */
export function roundToQ8Blocks(x: Float64Array): Float64Array {
  if (x.length % 32 !== 0) throw new Error(`${x.length} values are not whole blocks of 32`);
  const out = new Float64Array(x.length);
  for (let b = 0; b < x.length; b += 32) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b + j]));
    const d = amax / 127;
    for (let j = 0; j < 32; j++) out[b + j] = d === 0 ? 0 : roundHalfEven(x[b + j] / d) * d;
  }
  return out;
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
