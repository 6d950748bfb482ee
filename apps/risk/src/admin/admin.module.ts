import { Module } from '@nestjs/common';
import { BacktestService } from '../backtest/backtest.service';
import { ProfilesModule } from '../profiles/profiles.module';
import { AdminHttpController } from './admin.http.controller';
import { AdminService } from './admin.service';
import { PolicySimulationHttpController } from './policy-simulation.http.controller';

@Module({
  imports: [ProfilesModule],
  controllers: [AdminHttpController, PolicySimulationHttpController],
  providers: [AdminService, BacktestService],
})
export class AdminModule {}
