// Time-based retention that no single write can do on its way: the inbox of processed message ids and old
// challenge results, swept every few minutes. (Assessments, sightings and the velocity window are bounded
// as they are written.)
import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { RiskPolicy } from '../policy/risk-policy.service';
import { Inbox } from './inbox.service';
import { ProfileService } from './profile.service';

const SWEEP_EVERY_MS = 5 * 60_000;
const DAY_MS = 86_400_000;

@Injectable()
export class RetentionService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(RetentionService.name);
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly inbox: Inbox,
    private readonly profiles: ProfileService,
    private readonly policy: RiskPolicy,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => {
      this.running = this.sweep(Date.now()).catch((err: unknown) =>
        this.logger.warn(`retention sweep failed: ${(err as Error).message}`),
      );
    }, SWEEP_EVERY_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
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
