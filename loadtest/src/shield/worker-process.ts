import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import type { ParentMessage, WorkerMessage, WorkerResult, WorkerTask } from "./worker-protocol.js";

type MessageType = WorkerMessage["type"];

/**
 * One worker process of `bench:shield` (worker.js), seen from the
 * benchmark: messages are buffered as they arrive, so a "listening" sent
 * before anyone waits for it is not lost.
 */
export class WorkerProcess {
  readonly child: ChildProcess;
  readonly #messages: WorkerMessage[] = [];
  readonly #waiters = new Set<() => void>();
  #exit: string | null = null;

  constructor(child: ChildProcess) {
    this.child = child;
    child.on("message", (raw: unknown) => {
      this.#messages.push(raw as WorkerMessage);
      this.#wake();
    });
    child.once("exit", (code, signal) => {
      this.#exit = `exited (code ${code}, signal ${signal})`;
      this.#wake();
    });
  }

  get pid(): number {
    const pid = this.child.pid;
    if (pid === undefined) throw new Error("worker has no pid");
    return pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves the next message of `type` (earlier ones of other types are skipped); rejects on "failed", exit or timeout. */
  waitFor<T extends MessageType>(type: T, timeoutMs: number): Promise<Extract<WorkerMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        while (this.#messages.length > 0) {
          const message = this.#messages.shift()!;
          if (message.type === "failed") {
            reject(new Error(`worker ${this.child.pid} failed: ${message.error}`));
            return true;
          }
          if (message.type === type) {
            resolve(message as Extract<WorkerMessage, { type: T }>);
            return true;
          }
        }
        if (this.#exit !== null) {
          reject(new Error(`worker ${this.child.pid} ${this.#exit} before "${type}"`));
          return true;
        }
        return false;
      };
      if (check()) return;
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`worker ${this.child.pid} gave no "${type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      this.#waiters.add(waiter);
    });
  }

  start(task: WorkerTask): void {
    const message: ParentMessage = { type: "start", task };
    this.child.send(message);
  }

  /** Waits for the result of the task started, within its deadline and some slack. */
  async result(task: WorkerTask): Promise<WorkerResult> {
    const message = await this.waitFor("result", task.deadlineMs + 15_000);
    return message.result;
  }

  /** Waits for the worker to leave (it does after its result), SIGKILL by pid after `graceMs`. */
  async stop(graceMs = 2_000): Promise<void> {
    if (!this.running) return;
    const exited = once(this.child, "exit");
    const timer = setTimeout(() => this.kill(), graceMs);
    await exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.running) this.child.kill("SIGKILL");
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

/** Forks the worker (worker.js) and waits for its "ready". `register` sees the child first, so a failure can still kill it. */
export async function startWorker(
  entry: string,
  register: (worker: WorkerProcess) => void,
): Promise<WorkerProcess> {
  const worker = new WorkerProcess(
    fork(entry, [], { stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv: ["--enable-source-maps"] }),
  );
  register(worker);
  await worker.waitFor("ready", 15_000);
  return worker;
}
