// `node dist/apps/stepgate/src/demo-secrets.js [DIR]`: generates the demo secrets the operator did not supply
// into DIR or $STEPGATE_DEMO_SECRETS_DIR (compose's `stepgate-secrets` service runs it; docs/adr/0015).
import { runDemoSecretsCli } from './demo-secrets.generator';

runDemoSecretsCli(process.argv.slice(2), process.env, {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
