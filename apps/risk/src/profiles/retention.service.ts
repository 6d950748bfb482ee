// Retention that no single write does on its way: the inbox of processed message ids and old challenge
// results, swept every few minutes; the assessments of the subjects that got new ones, trimmed to the limit
// every few seconds (off the batch's path). Sightings and the velocity window are bounded as they are written.
import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { RiskPolicyService } from '../policy/risk-policy.service';
import { AssessmentLogService } from './assessment-log.service';
import { InboxService } from './inbox.service';
import { ProfileWriter } from './profile.writer';
import { Transactions } from '../database/transactions';

const SWEEP_EVERY_MS = 5 * 60_000;
const TRIM_EVERY_MS = 10_000;
const DAY_MS = 86_400_000;

@Injectable()
export class RetentionService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(RetentionService.name);
  private readonly timers: NodeJS.Timeout[] = [];
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly inbox: InboxService,
    private readonly profiles: ProfileWriter,
    private readonly log: AssessmentLogService,
    private readonly transactions: Transactions,
    private readonly policy: RiskPolicyService,
  ) {}

  onModuleInit(): void {
    const every = (ms: number, what: string, work: () => Promise<unknown>) => {
      const timer = setInterval(() => {
        this.running = this.running
          .then(work)
          .catch((err: unknown) => this.logger.warn(`${what} failed: ${(err as Error).message}`));
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(SWEEP_EVERY_MS, 'retention sweep', () => this.sweep(Date.now()));
    every(TRIM_EVERY_MS, 'trimming assessments', () => this.trimAssessments());
  }

  async onModuleDestroy(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await this.running;
  }

  /** Trims the assessments of every subject that got one since the last trim; returns how many went. */
  async trimAssessments(): Promise<number> {
    const subjects = this.log.takeTouched();
    if (subjects.length === 0) return 0;
    const keep = this.policy.current.config.retention.assessmentsPerSubject;
    try {
      return await this.transactions.run((em) => this.log.prune(em, subjects, keep));
    } catch (err) {
      // Tried again next time (a lost trim only delays it until the subject's next assessment).
      for (const s of subjects) this.log.touch(s);
      throw err;
    }
  }

  /** Deletes what is past retention at `now`; returns what it deleted. */
  async sweep(now: number): Promise<{ messages: number; challenges: number }> {
    const { retention, failureWindowSeconds } = this.policy.current.config;
    const messages = await this.inbox.prune(now - retention.processedMessagesDays * DAY_MS);
    // Never inside the failure window, whatever retention says.
    const keepChallengesMs = Math.max(retention.challengeDays * DAY_MS, failureWindowSeconds * 1000);
    const challenges = await this.profiles.pruneChallenges(now - keepChallengesMs);
    if (messages + challenges > 0) {
      this.logger.log(`retention: forgot ${messages} processed messages, ${challenges} challenge results`);
    }
    return { messages, challenges };
  }
}
