/** The oracle side of a logprob: log-softmax of a dense reference row at one token, in float64. */
export function logSoftmaxAt(row: Float64Array, token: number): number {
  const max = Math.max(...row);
  return row[token] - max - Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
}
