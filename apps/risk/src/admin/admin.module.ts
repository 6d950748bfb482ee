import { Module } from '@nestjs/common';
import { BacktestService } from '../backtest/backtest.service';
import { PolicyModule } from '../policy/policy.module';
import { ProfilesModule } from '../profiles/profiles.module';
import { AdminAssertions } from './admin-assertion';
import { AdminHttpController } from './admin.http.controller';
import { AdminService } from './admin.service';
import { PolicySimulationHttpController } from './policy-simulation.http.controller';
import { PolicyHttpController } from './policy.http.controller';

@Module({
  imports: [ProfilesModule, PolicyModule],
  controllers: [AdminHttpController, PolicySimulationHttpController, PolicyHttpController],
  providers: [AdminService, BacktestService, AdminAssertions],
})
export class AdminModule {}
