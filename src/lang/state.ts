import type { LangBackend } from './backend.js';
import { RoleFormatter } from './chat-roles.js';
import { CHOICE_METHODS, decide } from './choices.js';
import { LangError } from './errors.js';
import { ForkGroup, type JoinMode } from './fork-group.js';
import { OpQueue } from './op-queue.js';
import type { ChatTurn, ChoiceMethod, MetaInfo, Role, SamplingOptions } from './types.js';
import { VarStreams } from './var-streams.js';

/** Options of `select`. */
export interface SelectOptions {
  /** The candidate continuations (non-empty strings). */
  readonly choices: readonly string[];
  /** How to pick one. Default 'token_length_normalized'. */
  readonly method?: ChoiceMethod;
}

/** The content of a role block: text, or a function that writes the turn (e.g. calls `gen`). */
export type RoleContent = string | ((s: ProgramState) => unknown);

/** How a state is set up (by `run`, `runBatch` and `fork`). */
export interface StateInit {
  readonly backend: LangBackend;
  /** Sampling options every `gen` starts from (its own options win). */
  readonly defaults?: SamplingOptions;
  readonly signal?: AbortSignal;
  /** Awaited with the text before the state's first backend request (runBatch's shared-prefix warm-up). */
  readonly beforeFirstRequest?: (text: string) => Promise<void>;
}

/**
 * The state `s` a program writes to: its text, chat turns and variables. Operations (`append`,
 * `gen`, `select`, role blocks, `fork`) run in the order they are issued, each after the previous
 * one ends, whether or not the program awaits them; `gen` and `select` resolve with the value.
 * The accessors (`text`, `get`, …) read what has run so far; `await s.sync()` waits for the rest.
 */
export class ProgramState<R = unknown> {
  /** What the program function returned (set once it has run without error). */
  returnValue: R | undefined;
  private text_ = '';
  private turns: ChatTurn[] = [];
  private readonly vars = new Map<string, string | readonly string[]>();
  private readonly metas = new Map<string, MetaInfo>();
  /** Variables set by this state itself (not copied in at a fork): what `join` gathers. */
  private readonly ownVars = new Set<string>();
  private readonly pending = new Map<string, number>();
  private readonly queue = new OpQueue();
  private readonly streams = new VarStreams();
  private openRole: { role: Role; start: number } | null = null;
  private roles: Promise<RoleFormatter> | undefined;
  /** Role blocks still running. */
  private readonly blocks = new Set<Promise<void>>();
  private gate: ((text: string) => Promise<void>) | undefined;
  private ended = false;
  /** Where this state's own text starts (0, or the parent's text length at the fork). */
  private forkStart = 0;

  constructor(private readonly init: StateInit) {
    this.gate = init.beforeFirstRequest;
  }

  /** The first error of an operation or of the program function; later operations were skipped. */
  get error(): unknown {
    return this.queue.error;
  }

  /** Appends text. */
  append(text: string): this {
    if (typeof text !== 'string') throw new LangError('append.text', `must be a string (got ${typeof text})`);
    void this.queue.enqueue(() => {
      this.text_ += text;
    });
    return this;
  }

  /** Generates a continuation of the text so far, appends it, and stores it as variable `name`. */
  gen(name: string, options: SamplingOptions = {}): Promise<string> {
    checkName('gen.name', name);
    if (options === null || typeof options !== 'object') throw new LangError('gen.options', 'must be an object');
    return this.produce(name, async () => {
      const writer = this.streams.writer(name);
      try {
        await this.passGate();
        const out = await this.init.backend.generate({
          text: this.text_,
          options: { ...this.init.defaults, ...options },
          ...(this.init.signal ? { signal: this.init.signal } : {}),
          ...(writer.listening ? { onText: (piece: string) => writer.write(piece) } : {}),
        });
        this.setVar(name, out.text, out.meta);
        writer.finish(out.text);
        return out.text;
      } catch (err) {
        writer.fail(err);
        throw err;
      }
    });
  }

  /**
   * Appends the choice that best continues the text so far and stores it as variable `name`. The
   * prefix is cached first, then all choices are scored in one batch (token-healed at the boundary).
   */
  select(name: string, options: SelectOptions): Promise<string> {
    checkName('select.name', name);
    const { choices, method = 'token_length_normalized' } = options ?? ({} as SelectOptions);
    if (!Array.isArray(choices) || choices.length === 0) throw new LangError('select.choices', 'must be a non-empty array of strings');
    choices.forEach((c, i) => {
      if (typeof c !== 'string' || c === '') throw new LangError(`select.choices[${i}]`, 'must be a non-empty string');
    });
    if (!CHOICE_METHODS.includes(method)) throw new LangError('select.method', `must be one of ${CHOICE_METHODS.join(', ')} (got ${JSON.stringify(method)})`);
    return this.produce(name, async () => {
      const writer = this.streams.writer(name);
      try {
        if (this.text_ === '') throw new LangError('select', 'needs text before it: choices are scored as continuations of it');
        await this.passGate();
        const scored = await this.init.backend.scoreChoices(this.text_, choices, method === 'unconditional_likelihood_normalized', this.init.signal);
        const meta = decide(method, scored);
        const value = choices[meta.index]!;
        this.setVar(name, value, meta);
        writer.finish(value);
        return value;
      } catch (err) {
        writer.fail(err);
        throw err;
      }
    });
  }

  /** A system turn (see {@link ProgramState.user}). */
  system(content: RoleContent): Promise<void> {
    return this.roleBlock('system', content);
  }

  /**
   * A user turn, written with the model's chat template: its opening, the content (text, or
   * whatever the function writes), its closing. Turns cannot nest.
   */
  user(content: RoleContent): Promise<void> {
    return this.roleBlock('user', content);
  }

  /** An assistant turn; `gen` inside it continues after the template's assistant opening. */
  assistant(content: RoleContent): Promise<void> {
    return this.roleBlock('assistant', content);
  }

  /**
   * Makes `n` states that continue from this text (and chat turns, variables). With n > 1 the text
   * is cached first (one prefill-only request), so the children share its KV.
   */
  fork(n: number): Promise<ForkGroup<ProgramState>> {
    if (!Number.isInteger(n) || n < 1) throw new LangError('fork.n', `must be an integer ≥ 1 (got ${n})`);
    return this.queue.enqueue(async () => {
      if (n > 1 && this.text_ !== '') {
        await this.passGate();
        await this.init.backend.cachePrefix(this.text_, this.init.signal);
      }
      const children = Array.from({ length: n }, () => this.child());
      return new ForkGroup(children, (mode) => this.join(children, mode));
    });
  }

  /** Variable `name` (a string). @throws LangError when unset, or a list (use `getList`). */
  get(name: string): string {
    const v = this.lookup(name);
    if (typeof v !== 'string') throw new LangError(name, 'holds one value per forked state: read it with getList()');
    return v;
  }

  /** Variable `name` as a list: the values gathered by a join, or one value. */
  getList(name: string): readonly string[] {
    const v = this.lookup(name);
    return typeof v === 'string' ? [v] : v;
  }

  /** Whether variable `name` is set. */
  has(name: string): boolean {
    return this.vars.has(name);
  }

  /** The names of the variables set so far. */
  names(): string[] {
    return [...this.vars.keys()];
  }

  /** How variable `name` was made: token counts and logprobs for `gen`, choice scores for `select`. */
  metaInfo(name: string): MetaInfo {
    const m = this.metas.get(name);
    if (!m) {
      throw new LangError(name, this.pending.has(name) ? 'is not generated yet: await its gen/select first' : 'has no meta info (no gen or select of this state made it)');
    }
    return m;
  }

  /** The text so far. */
  text(): string {
    return this.text_;
  }

  /** The chat turns so far (OpenAI shape). */
  messages(): ChatTurn[] {
    return [...this.turns];
  }

  /**
   * The text of variable `name` piece by piece as it is generated. Call it before the `gen` runs to
   * get pieces live; a variable that is already complete comes as one piece.
   */
  async *stream(name: string): AsyncGenerator<string> {
    checkName('stream.name', name);
    if (!this.pending.has(name) && this.vars.has(name)) {
      yield this.getList(name).join('');
      return;
    }
    yield* this.streams.read(name);
  }

  /** Resolves once every operation issued so far has ended; check `error` afterwards. */
  async sync(): Promise<void> {
    // A role block the program did not await queues its closing only once its content is done.
    while (this.blocks.size > 0) await Promise.allSettled([...this.blocks]);
    await this.queue.drained();
  }

  /** Records a failure of the program function; later operations are skipped. */
  fail(err: unknown): void {
    this.queue.fail(err);
  }

  /** Ends the state after its program: waits for its operations and ends the streams still open. */
  async finish(): Promise<void> {
    await this.sync();
    if (this.ended) return;
    this.ended = true;
    this.streams.closeAll(this.queue.error);
    this.gate = undefined;
  }

  private produce(name: string, op: () => Promise<string>): Promise<string> {
    this.pending.set(name, (this.pending.get(name) ?? 0) + 1);
    const result = this.queue.enqueue(op);
    const done = (): void => {
      const left = this.pending.get(name)! - 1;
      if (left === 0) this.pending.delete(name);
      else this.pending.set(name, left);
    };
    result.then(done, done);
    return result;
  }

  private setVar(name: string, value: string, meta: MetaInfo): void {
    this.text_ += value;
    this.vars.set(name, value);
    this.metas.set(name, meta);
    this.ownVars.add(name);
  }

  private lookup(name: string): string | readonly string[] {
    const v = this.vars.get(name);
    if (v === undefined) {
      throw new LangError(name, this.pending.has(name) ? 'is not generated yet: await its gen/select first' : 'is not a variable of this program');
    }
    return v;
  }

  private async passGate(): Promise<void> {
    const gate = this.gate;
    this.gate = undefined;
    if (gate) await gate(this.text_);
  }

  private async roleBlock(role: Role, content: RoleContent): Promise<void> {
    if (typeof content !== 'string' && typeof content !== 'function') throw new LangError(`${role}.content`, 'must be a string or a function');
    const run = async (): Promise<void> => {
      void this.queue.enqueue(() => this.beginRole(role));
      // The function runs now, so what it writes queues right after the opening.
      if (typeof content === 'string') this.append(content);
      else await content(this);
      await this.queue.enqueue(() => this.endRole(role));
    };
    const done = run();
    this.blocks.add(done);
    done.then(
      () => this.blocks.delete(done),
      (err: unknown) => {
        this.blocks.delete(done);
        this.queue.fail(err);
      },
    );
    return done;
  }

  private async beginRole(role: Role): Promise<void> {
    if (this.openRole) throw new LangError(role, `cannot open a ${role} turn inside the ${this.openRole.role} turn (turns do not nest)`);
    this.roles ??= this.init.backend.chatRenderer().then((render) => new RoleFormatter(render));
    this.text_ += (await this.roles).prefix(role, this.turns);
    this.openRole = { role, start: this.text_.length };
  }

  private async endRole(role: Role): Promise<void> {
    const open = this.openRole;
    if (!open || open.role !== role) throw new LangError(role, `no ${role} turn is open`);
    // SGLang's message content: the turn's text without leading whitespace.
    const content = this.text_.slice(open.start).trimStart();
    this.text_ += (await this.roles!).suffix(role, this.turns);
    this.turns.push({ role, content });
    this.openRole = null;
  }

  private child(): ProgramState {
    // No beforeFirstRequest: the parent has passed the batch's gate before any fork.
    const { beforeFirstRequest: _, ...init } = this.init;
    const c = new ProgramState(init);
    c.text_ = this.text_;
    c.turns = [...this.turns];
    for (const [k, v] of this.vars) c.vars.set(k, v);
    for (const [k, v] of this.metas) c.metas.set(k, v);
    c.openRole = this.openRole && { ...this.openRole };
    c.roles = this.roles;
    c.forkStart = this.text_.length;
    return c;
  }

  private async join(children: readonly ProgramState[], mode: JoinMode): Promise<void> {
    await Promise.all(children.map((c) => c.finish()));
    const failed = children.find((c) => c.queue.hasFailed);
    if (failed) {
      this.queue.fail(failed.error);
      throw failed.error;
    }
    const names = new Set(children.flatMap((c) => [...c.ownVars]));
    for (const name of names) {
      this.vars.set(
        name,
        children.flatMap((c) => (c.vars.has(name) ? c.getList(name) : [])),
      );
      this.ownVars.add(name);
    }
    if (mode === 'concatenate') {
      await this.queue.enqueue(() => {
        this.text_ += children.map((c) => c.text_.slice(c.forkStart)).join('');
      });
    }
  }
}

function checkName(field: string, name: unknown): void {
  if (typeof name !== 'string' || name === '') throw new LangError(field, 'must be a non-empty string');
}
