#!/usr/bin/env node
// The packaged zip under a real Lambda Runtime API server: @vercel/fun's `provided` runtime
// (docs/LAMBDA.md, "Packaging and deployment").
//
//   node tests/cli/lambda_fun_test.mjs --sentiflow BINARY
//
// Packages a pipeline with `sentiflow package`, hands the zip to @vercel/fun (from tests/peers),
// which unzips it with the zip's own file modes and runs its `bootstrap` with Lambda's
// environment only (no LD_LIBRARY_PATH, nothing of ours), then checks:
//   - success: an empty SQS event is answered {"batchItemFailures": []};
//   - records: a poison record (body not JSON) comes back as a failure;
//   - handler error: an event that is not an SQS event is a function error, errorType
//     Sentiflow.InvalidInput, and the process lives on (the next invocation succeeds);
//   - many warm invocations: 200 invocations, all answered by the one process (same pid);
//   - init error: a pipeline file that does not load (SENTIFLOW_PIPELINE naming a broken one, or
//     the package's own pipeline.yaml whose ${VAR} has no value on Lambda) and an unknown handler
//     are reported to /runtime/init/error with their message.
// fun's limits: its Lambda-Runtime-Deadline-Ms is the constant 5000 (a time in 1970, so a
// consumer sees its deadline as past and hands records back) and it sends no trace id; both are
// covered by the strict Runtime API server of tests/support/runtime_api_server.h instead.
//
// Exit status: 0 passed, 1 failed, 77 skipped (no @vercel/fun in tests/peers/node_modules:
// `bash scripts/setup` installs it); ctest reads 77 as a skip.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SKIP = 77;
const WARM_INVOCATIONS = 200;
const here = dirname(fileURLToPath(import.meta.url));
const peers = resolve(here, '../peers');

function skip(why) {
  console.log(`SKIP: ${why}`);
  process.exit(SKIP);
}

function check(condition, what) {
  if (!condition) throw new Error(what);
  console.log(`ok: ${what}`);
}

function parseArgs(argv) {
  if (argv.length !== 2 || argv[0] !== '--sentiflow') {
    console.error('usage: lambda_fun_test.mjs --sentiflow BINARY');
    process.exit(2);
  }
  return { sentiflow: resolve(argv[1]) };
}

function sentiflow(binary, args, env = {}) {
  const r = spawnSync(binary, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`sentiflow ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

// The pids of the processes running `<taskRoot>/bin/sentiflow` through the bundled loader.
function functionPids(taskRoot) {
  const pids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;  // gone meanwhile
    }
    if (cmdline.split('\0').includes(join(taskRoot, 'bin/sentiflow'))) pids.push(Number(entry));
  }
  return pids;
}

function sqsRecord(id, body) {
  return {
    messageId: id,
    receiptHandle: `handle-${id}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '1764136800000',
      SenderId: 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: '1764136800001',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:funtest',
    awsRegion: 'us-east-1',
  };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(join(peers, 'node_modules/@vercel/fun/package.json')))
    skip('tests/peers/node_modules/@vercel/fun is missing (bash scripts/setup installs it)');
  const require = createRequire(join(peers, 'package.json'));
  const fun = require('@vercel/fun');

  const work = mkdtempSync(join(tmpdir(), 'sentiflow-fun-'));
  // fun unzips into os.tmpdir() and caches its runtimes under XDG_CACHE_HOME: both in `work`.
  process.env.TMPDIR = work;
  process.env.XDG_CACHE_HOME = join(work, 'cache');
  const functions = [];
  try {
    // A consumer on local parts with absolute paths, so that the unzipped pipeline.yaml finds
    // the state and the sink here. SENTIFLOW_RUN_STATE=local keeps the run state in SQLite.
    const pipeline = join(work, 'pipeline.yaml');
    mkdirSync(join(work, 'out'));
    writeFileSync(pipeline, [
      'name: funtest',
      `state_dir: ${join(work, 'state')}`,
      'source: {table: local://items, key: id, text: text}',
      'queue: {url: local://funtest, visibility_timeout: 60s}',
      `sink: {store: ${join(work, 'out')}/}`,
      '',
    ].join('\n'));
    // The queue exists before the function starts (on AWS the template creates it).
    sentiflow(args.sentiflow, ['queue', 'send', '--pipeline', pipeline, '{}']);
    sentiflow(args.sentiflow, ['queue', 'purge', '--yes', '--pipeline', pipeline]);
    const zip = join(work, 'function.zip');
    console.log(sentiflow(args.sentiflow, ['package', pipeline, '--out', zip]).trim());
    const zipBytes = readFileSync(zip);

    const create = async (handler, variables = {}, code = { ZipFile: zipBytes }) => {
      const fn = await fun.createFunction({
        Code: code,
        Handler: handler,
        Runtime: 'provided',
        MemorySize: 512,
        Region: 'us-east-1',
        Environment: { Variables: { SENTIFLOW_RUN_STATE: 'local', ...variables } },
      });
      functions.push(fn);
      return fn;
    };
    const invoke = async (fn, event) => {
      const r = await fn.invoke({ InvocationType: 'RequestResponse', Payload: JSON.stringify(event) });
      return { error: r.FunctionError, payload: JSON.parse(String(r.Payload)) };
    };

    // Success, a poison record, a handler error, then many warm invocations in one process.
    const consumer = await create('consumer');
    const empty = await invoke(consumer, { Records: [] });
    check(empty.error === undefined, `an empty SQS event succeeds (${JSON.stringify(empty)})`);
    check(JSON.stringify(empty.payload) === '{"batchItemFailures":[]}', 'its answer is {"batchItemFailures":[]}');
    const taskRoot = consumer.extractedDir;
    const pids = functionPids(taskRoot);
    check(pids.length === 1, `one process runs the function from the unzipped zip (${pids})`);

    const good = JSON.stringify({ v: 1, run: 'manual-20261126T000000.000Z', key: 'a', item: { id: 'a', text: 'I love it' } });
    const records = await invoke(consumer, { Records: [sqsRecord('m-good', good), sqsRecord('m-poison', 'not json')] });
    check(records.error === undefined, `an SQS event with records is answered (${JSON.stringify(records)})`);
    const failed = records.payload.batchItemFailures.map((f) => f.itemIdentifier).sort();
    // fun's deadline is 1970: the consumer may hand every record back as past its deadline; the
    // poison record is a failure either way.
    check(failed.includes('m-poison'), `the poison record is a batch item failure (${failed})`);
    check(failed.every((id) => id === 'm-good' || id === 'm-poison'), 'only the event\'s ids are failures');

    const wrong = await invoke(consumer, { hello: 'world' });
    check(wrong.error === 'Handled', `an event that is not an SQS event is a function error (${JSON.stringify(wrong)})`);
    check(wrong.payload.errorType === 'Sentiflow.InvalidInput', `errorType ${wrong.payload.errorType}`);
    check(typeof wrong.payload.errorMessage === 'string' && wrong.payload.errorMessage.length > 0, 'with a message');
    check(Array.isArray(wrong.payload.stackTrace), 'and a stackTrace array');

    for (let i = 0; i < WARM_INVOCATIONS; ++i) {
      const r = await invoke(consumer, { Records: [] });
      if (r.error !== undefined || r.payload.batchItemFailures.length !== 0)
        throw new Error(`warm invocation ${i} failed: ${JSON.stringify(r)}`);
    }
    check(true, `${WARM_INVOCATIONS} warm invocations succeed`);
    check(JSON.stringify(functionPids(taskRoot)) === JSON.stringify(pids), 'all in the same process: the handler stays warm');

    // Init errors: a pipeline file that does not load, an unknown handler.
    const broken = join(work, 'broken.yaml');
    writeFileSync(broken, 'name: 1bad\n');
    const badFile = await create('consumer', { SENTIFLOW_PIPELINE: broken });
    const init = await invoke(badFile, { Records: [] });
    check(init.error === 'Unhandled', `a broken pipeline file is an init error (${JSON.stringify(init)})`);
    check(String(init.payload.errorMessage).includes('name'), 'whose message names the bad key');

    // A pipeline.yaml in the package that is broken where it runs: valid when packaged, but its
    // ${FUNTEST_SINK} has no value in the function's environment.
    const needsVariable = join(work, 'needs-variable.yaml');
    writeFileSync(needsVariable, readFileSync(pipeline, 'utf8').replace(/^sink: .*$/m, 'sink:\n  store: ${FUNTEST_SINK}'));
    const packaged = join(work, 'needs-variable.zip');
    sentiflow(args.sentiflow, ['package', needsVariable, '--out', packaged], { FUNTEST_SINK: join(work, 'out') + '/' });
    const badZip = await create('consumer', {}, { ZipFile: readFileSync(packaged) });
    const initZip = await invoke(badZip, { Records: [] });
    check(initZip.error === 'Unhandled', `a pipeline.yaml that does not load on Lambda is an init error (${JSON.stringify(initZip)})`);
    check(String(initZip.payload.errorMessage).includes('FUNTEST_SINK'), 'whose message names the variable');

    const unknown = await create('nope');
    const initHandler = await invoke(unknown, { Records: [] });
    check(initHandler.error === 'Unhandled', `an unknown handler is an init error (${JSON.stringify(initHandler)})`);
    check(String(initHandler.payload.errorMessage).includes('nope'), 'whose message names it');
  } finally {
    for (const fn of functions) await fn.destroy().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }
  console.log('PASS');
}

main().catch((err) => {
  console.error(`FAIL: ${err.stack || err}`);
  process.exit(1);
});
