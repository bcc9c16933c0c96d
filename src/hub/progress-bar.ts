/**
 * The default download progress: one bar on stderr over all the bytes a pull fetches, drawn only
 * when stderr is a terminal and HF_HUB_DISABLE_PROGRESS_BARS (Python's switch) is not set.
 */
import cliProgress from 'cli-progress';
import { isTrue } from './settings.js';

export interface ProgressReporter {
  update(received: number, total: number, file: string): void;
  stop(): void;
}

const MB = 1024 * 1024;

/** A bar labelled `label`, or undefined when progress should stay quiet. */
export function terminalProgressBar(label: string): ProgressReporter | undefined {
  if (!process.stderr.isTTY || isTrue(process.env.HF_HUB_DISABLE_PROGRESS_BARS)) return undefined;
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: `${label} {bar} {percentage}% | {got}/{size} MB | ETA {eta_formatted} | {file}`,
    hideCursor: true,
    etaBuffer: 50,
  });
  let started = false;
  const payload = (received: number, total: number, file: string) => ({ got: (received / MB).toFixed(1), size: (total / MB).toFixed(1), file });
  return {
    update(received, total, file) {
      if (!started) bar.start(total, received, payload(received, total, file));
      else bar.update(received, payload(received, total, file));
      started = true;
    },
    stop: () => started && bar.stop(),
  };
}
