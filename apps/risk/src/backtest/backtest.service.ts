// Backtests a candidate policy against the accesses risk recorded, under the policy in force now.
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DomainError, type HttpStatusList } from '@stepgate/observability';
import type { DataSource } from 'typeorm';
import { RiskPolicyService } from '../policy/risk-policy.service';
import { RISK_DB } from '../database/risk.data-source';
import type { BacktestReport } from './backtest.engine';
import { InvalidCandidate, simulate, type SimulationRequest } from './simulation';

export class CandidateRejected extends DomainError {
  constructor(problems: string[]) {
    super('invalid_candidate', `candidate: ${problems.join('; ')}`, { problems });
  }
}

export class SimulationRunning extends DomainError {
  constructor() {
    super('simulation_running', 'a policy simulation is already running; try again when it is done');
  }
}

export const BACKTEST_HTTP_STATUSES: HttpStatusList = [
  [CandidateRejected, 400],
  [SimulationRunning, 409],
];

/** One simulation at a time per instance: each takes a core for seconds (about 23 s per million accesses). */
@Injectable()
export class BacktestService {
  private running = false;

  constructor(
    @InjectDataSource(RISK_DB) private readonly db: DataSource,
    private readonly policy: RiskPolicyService,
  ) {}

  async simulate(request: SimulationRequest): Promise<BacktestReport> {
    // One policy for the whole run, even if the file changes meanwhile.
    const inForce = { config: this.policy.current.config, routes: this.policy.routes };
    if (this.running) throw new SimulationRunning();
    this.running = true;
    try {
      return await simulate(this.db.manager, inForce, request);
    } catch (err) {
      if (err instanceof InvalidCandidate) throw new CandidateRejected(err.problems);
      throw err;
    } finally {
      this.running = false;
    }
  }
}
