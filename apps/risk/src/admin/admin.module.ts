import { Module } from '@nestjs/common';
import { ProfilesModule } from '../profiles/profiles.module';
import { AdminHttpController } from './admin.http.controller';
import { AdminService } from './admin.service';

@Module({
  imports: [ProfilesModule],
  controllers: [AdminHttpController],
  providers: [AdminService],
})
export class AdminModule {}
