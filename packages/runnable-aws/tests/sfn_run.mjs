// Runs a rendered state machine, unchanged, in aws-local-stepfunctions (a real ASL interpreter), with every
// Task state carried out by a local handler that does what the AWS integration it names does, no more:
//
//   arn:aws:states:::batch:submitJob.sync   runs the job definition's container command, as overridden by the
//       state's ContainerOverrides, in a fresh process (in a fresh copy of the project folder) with the job definition's environment (plus the
//       overrides' Environment, plus its Secrets Manager secrets resolved as Batch does); Batch's
//       retryStrategy is honoured (evaluateOnExit); a non-zero exit fails the state with States.TaskFailed.
//       `runnable` and `python` at the head of the command are the interpreter given (no container here).
//   arn:aws:states:::aws-sdk:s3:getObject   reads the object from the S3 server (boto3, signed); Body is its text.
//
// usage: node sfn_run.mjs '{"definition": FILE, "jobs": FILE, "cwd": DIR, "python": EXE, "aws": URL,
//                           "name": EXECUTION_NAME, "input": {...}, "node_dir": DIR}'
// prints one JSON line: {"status": "SUCCEEDED"|"FAILED", "error", "cause", "jobs": [[state, command, exit], ...]}
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const options = JSON.parse(process.argv[2]);
// aws-local-stepfunctions lives where sfn_tools.py installed it (outside the repository).
const require = createRequire(join(options.node_dir, 'package.json'));
const { StateMachine } = require('aws-local-stepfunctions');
const definition = JSON.parse(readFileSync(options.definition, 'utf8'));
const jobDefinitions = Object.fromEntries(
  JSON.parse(readFileSync(options.jobs, 'utf8')).map((d) => [d.jobDefinitionName, d]),
);
const jobs = [];
// The AWS the handlers call (the integrations' own calls, not the containers'): the moto server.
const awsEnv = { ...process.env, AWS_ENDPOINT_URL: options.aws };

class TaskFailed extends Error {
  constructor(name, message) {
    super(message);
    this.name = name;
  }
}

// The image: the project folder as it was before the execution. Each container starts from a fresh copy of it
// and sees no file another container wrote (they share only the run log store and the catalog, as on AWS).
const image = mkdtempSync(join(tmpdir(), 'sfn-image-'));
cpSync(options.cwd, image, { recursive: true });

function run(argv, env, cwd = options.cwd) {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', (error) => resolve({ code: 127, output: String(error) }));
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

function headOf(command) {
  if (command[0] === 'runnable') return [options.python, '-m', 'runnable', ...command.slice(1)];
  if (command[0] === 'python') return [options.python, ...command.slice(1)];
  return command;
}

async function secretValue(reference) {
  const script = 'import boto3, sys; print(boto3.client("secretsmanager").get_secret_value(SecretId=sys.argv[1])'
    + '["SecretString"], end="")';
  const done = await run([options.python, '-c', script, reference], awsEnv);
  if (done.code !== 0) throw new TaskFailed('States.TaskFailed', `secret ${reference}: ${done.output}`);
  return done.output;
}

// Batch's evaluateOnExit: the first rule whose onExitCode glob matches decides RETRY or EXIT.
function batchAction(strategy, code) {
  for (const rule of strategy?.evaluateOnExit ?? []) {
    const pattern = new RegExp('^' + String(rule.onExitCode ?? '*').replace(/\*/g, '.*') + '$');
    if (pattern.test(String(code))) return rule.action.toUpperCase();
  }
  return 'RETRY';
}

async function submitJobSync(state, parameters) {
  const definition = jobDefinitions[parameters.JobDefinition];
  if (!definition) throw new TaskFailed('Batch.ClientException', `no job definition ${parameters.JobDefinition}`);
  const container = definition.containerProperties;
  const overrides = parameters.ContainerOverrides ?? {};
  const env = { ...process.env };
  for (const { name, value } of container.environment ?? []) env[name] = value;
  for (const { name, value } of overrides.Environment ?? []) env[name] = value;
  for (const { name, valueFrom } of container.secrets ?? []) env[name] = await secretValue(valueFrom);
  const command = overrides.Command ?? container.command;
  const attempts = definition.retryStrategy?.attempts ?? 1;
  let done;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const workdir = mkdtempSync(join(tmpdir(), 'sfn-job-'));
    cpSync(image, workdir, { recursive: true });
    try {
      done = await run(headOf(command), env, workdir);
    } finally {
      rmSync(workdir, { recursive: true, force: true });
    }
    jobs.push([state, command, done.code]);
    if (done.code === 0 || batchAction(definition.retryStrategy, done.code) === 'EXIT') break;
  }
  const description = { JobName: parameters.JobName, JobQueue: parameters.JobQueue, Container: { Command: command, ExitCode: done.code } };
  if (done.code !== 0) {
    const cause = JSON.stringify({ ...description, Status: 'FAILED', StatusReason: done.output.slice(-2000) });
    throw new TaskFailed('States.TaskFailed', cause);
  }
  return { ...description, Status: 'SUCCEEDED' };
}

// The S3 call is made by boto3 (signed, as the SDK integration is) in a helper process.
async function getObject(parameters) {
  const script = 'import boto3, sys\n'
    + 's3 = boto3.client("s3")\n'
    + 'try:\n    body = s3.get_object(Bucket=sys.argv[1], Key=sys.argv[2])["Body"].read()\n'
    + 'except s3.exceptions.NoSuchKey:\n    sys.exit(4)\n'
    + 'sys.stdout.write(body.decode())\n';
  const done = await run([options.python, '-c', script, parameters.Bucket, parameters.Key], awsEnv);
  if (done.code === 4) throw new TaskFailed('S3.NoSuchKeyException', `${parameters.Key}: no such key`);
  if (done.code !== 0) throw new TaskFailed('S3.S3Exception', done.output.slice(-2000));
  return { Body: done.output, ContentLength: done.output.length, ContentType: 'application/json' };
}

// Every Task state at any depth, by name, gets the handler of its Resource.
function handlers(states, found = {}) {
  for (const [name, state] of Object.entries(states)) {
    if (state.Type === 'Task') {
      if (state.Resource === 'arn:aws:states:::batch:submitJob.sync') found[name] = (p) => submitJobSync(name, p);
      else if (state.Resource === 'arn:aws:states:::aws-sdk:s3:getObject') found[name] = (p) => getObject(p);
      else throw new Error(`state ${name}: no local handler for ${state.Resource}`);
    }
    for (const branch of state.Branches ?? []) handlers(branch.States, found);
    const processor = state.ItemProcessor ?? state.Iterator;
    if (processor) handlers(processor.States, found);
  }
  return found;
}

const machine = new StateMachine(definition);
const execution = machine.run(options.input ?? {}, {
  overrides: { taskResourceLocalHandlers: handlers(definition.States), retryIntervalOverrides: {} },
  context: { Execution: { Name: options.name, Id: `arn:aws:states:local:000000000000:execution:runnable:${options.name}` } },
});
let outcome;
try {
  const output = await execution.result;
  outcome = { status: 'SUCCEEDED', output };
} catch (error) {
  outcome = { status: 'FAILED', error: error.name, cause: String(error.message ?? error).slice(0, 4000) };
}
rmSync(image, { recursive: true, force: true });
process.stdout.write(JSON.stringify({ ...outcome, jobs }) + '\n');
