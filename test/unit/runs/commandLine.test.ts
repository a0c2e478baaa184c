import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePatterns, DEFAULT_COMMAND_PATTERNS, guessTask, MAX_COMMAND_LINE_LENGTH, recogniseCommand, splitCommands, stripWrappers } from '../../../src/core/runs/commandLine';

const defaults = compilePatterns(DEFAULT_COMMAND_PATTERNS).patterns;
const AT = new Date(2026, 0, 1, 14, 5, 3).getTime();

function guess(line: string) {
  const run = recogniseCommand(line, defaults);
  return run ? guessTask(run, AT) : null;
}

test('a python script run is recognised, with the task read from its flags', () => {
  assert.deepEqual(guess('python generate.py --res 720p --steps 50'), { taskId: 'generate.py@14:05:03', modelType: 'generate', resolution: '720p', steps: 50, scriptName: 'generate.py' });
  assert.deepEqual(guess('python3 -u scripts/gen.py --model stabilityai/sdxl-base --width 1280 --height=720 --num_inference_steps=30'), {
    taskId: 'gen.py@14:05:03', modelType: 'stabilityai/sdxl-base', resolution: '1280x720', steps: 30, scriptName: 'gen.py',
  });
  assert.equal(guess('/usr/bin/python3.11 x.py --ckpt /models/wan2.1-t2v.safetensors')?.modelType, 'wan2.1-t2v');
  assert.equal(guess('python gen.py --task-id my-run --resolution 1080p')?.taskId, 'my-run');
});

test('environment assignments, wrappers, quotes, and launchers', () => {
  assert.equal(guess('CUDA_VISIBLE_DEVICES=1 FOO="a b" python gen.py --steps 4')?.steps, 4);
  assert.equal(guess('env -u X time nohup python gen.py')?.scriptName, 'gen.py');
  assert.equal(guess(`python "my dir/run it.py" --size '1024x1024'`)?.resolution, '1024x1024');
  assert.equal(guess('uv run --with torch gen.py --steps 8')?.steps, 8);
  assert.equal(guess('uv run python -m pkg.generate --steps 9')?.scriptName, 'pkg.generate');
  assert.deepEqual(guess('torchrun --nproc_per_node 2 train.py --steps 7')?.steps, 7);
  assert.equal(guess('accelerate launch --num_processes=2 sample.py --res 480p')?.resolution, '480p');
  assert.equal(guess('deepspeed --num_gpus 8 infer.py')?.scriptName, 'infer.py');
  assert.equal(guess('python -m diffusers_cli.generate --steps 3')?.scriptName, 'diffusers_cli.generate');
  assert.equal(guess('cd /src && python gen.py --steps 2 2>&1 | tee log.txt')?.steps, 2);
});

test('model-perf run is recognised as recorded by the CLI, with its own flags first', () => {
  const run = recogniseCommand('model-perf run --task-id t1 --steps 12 -- python gen.py --steps 50', defaults);
  assert.ok(run);
  assert.equal(run.recordedByCli, true);
  assert.equal(guessTask(run, AT).taskId, 't1');
  assert.equal(guessTask(run, AT).steps, 12);
});

test('what is not a model run is not tracked', () => {
  for (const line of ['ls -la', 'python', 'python -c "print(1)"', 'pip install torch', 'echo python gen.py', 'git commit -m "python x.py"', 'vim gen.py', '', '   ']) {
    assert.equal(recogniseCommand(line, defaults), null, line);
  }
});

// No wall-clock assertion: catastrophic backtracking would not end at all, which the generous test
// timeout turns into a failure; a loaded machine cannot.
test('hostile input: unterminated quotes, huge lines, control characters, many tokens', { timeout: 60_000 }, () => {
  assert.equal(splitCommands('python "gen.py'), null);
  assert.equal(splitCommands(`python gen.py ${'a'.repeat(MAX_COMMAND_LINE_LENGTH)}`), null);
  assert.equal(splitCommands(`python gen.py ${'a '.repeat(5000)}`), null);
  const g = guess('python gen.py --task-id "$(run)\u001b[31mred\u0007" --model "\u0000x"');
  assert.ok(g);
  assert.doesNotMatch(g.taskId, /[\u0000-\u001f$]/);
  assert.doesNotMatch(g.modelType, /[\u0000-\u001f$]/);
  assert.equal(guess('python gen.py --steps 99999999999999999999')?.steps, 0);
  assert.equal(guess('python gen.py --steps -5')?.steps, 0);
  assert.equal(guess('python gen.py --width 1e9 --height 5')?.resolution, '');
  assert.equal(recogniseCommand(`python ${'-'.repeat(15000)}`, defaults), null, 'ends, without catastrophic backtracking');
});

test('tokenising: escapes, redirections, comments, operators', () => {
  assert.deepEqual(splitCommands('a\\ b "c\\"d" \'e\\f\''), [['a b', 'c"d', 'e\\f']]);
  assert.deepEqual(splitCommands('python x.py > out.log 2>&1 < in.txt'), [['python', 'x.py']]);
  assert.deepEqual(splitCommands('a; b && c || d | e & f # g h'), [['a'], ['b'], ['c'], ['d'], ['e'], ['f']]);
  assert.deepEqual(stripWrappers(['A=1', 'nice', '-n', '5', 'python', 'x.py']), ['python', 'x.py']);
  // A version manager's exec picks the interpreter: the run is the python it starts.
  assert.deepEqual(stripWrappers(['pyenv', 'exec', 'python3', 'x.py']), ['python3', 'x.py']);
  assert.deepEqual(stripWrappers(['/home/u/.pyenv/libexec/pyenv', 'exec', 'python', '-m', 'm']), ['python', '-m', 'm']);
  assert.deepEqual(stripWrappers(['pyenv', 'install', '3.11']), ['pyenv', 'install', '3.11']);
  assert.equal(recogniseCommand('pyenv exec python train.py --steps 20', compilePatterns(undefined).patterns)?.script, 'train.py');
});

test('configured patterns: a bad regex is reported and ignored, the good ones apply', () => {
  const c = compilePatterns(['^make gen', '(unclosed', 42, '']);
  assert.equal(c.patterns.length, 1);
  assert.equal(c.problems.length, 3);
  assert.match(c.problems[0] as string, /not a valid regular expression/);
  const run = recogniseCommand('make gen STEPS=3', c.patterns);
  assert.equal(run?.script, 'make');
  assert.equal(recogniseCommand('python gen.py', c.patterns), null);
  assert.equal(compilePatterns('nope').problems.length, 1);
  assert.equal(compilePatterns(undefined).patterns.length, DEFAULT_COMMAND_PATTERNS.length);
});

test('the manifest default of modelPerf.tracking.commandPatterns is the engine default', async () => {
  const { readFileSync } = await import('node:fs');
  const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as { contributes: { configuration: { properties: Record<string, { default: unknown }> } } };
  assert.deepEqual(manifest.contributes.configuration.properties['modelPerf.tracking.commandPatterns']?.default, [...DEFAULT_COMMAND_PATTERNS]);
  assert.equal(manifest.contributes.configuration.properties['modelPerf.tracking.enabled']?.default, true);
});
