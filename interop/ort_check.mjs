// ONNX Runtime side of the interop cross-check (interop/crosscheck.sh):
//
//   node interop/ort_check.mjs MODEL.onnx DIR [LABEL]
//
// runs MODEL.onnx in ONNX Runtime (onnxruntime-node, CPU) on DIR/images.f32,
// all images in one batch and the first 7 one by one (the batch dimension is
// dynamic), and compares the logits with DIR/logits.f32 (the Go network's).
// It prints the largest absolute difference and how many predicted classes
// agree, and exits 1 if the difference is over 1e-4 or a class differs.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

// require, unlike import, also looks in NODE_PATH (crosscheck.sh adds the
// global modules), for a machine where onnxruntime-node is installed once
// with npm install -g rather than in interop/node_modules.
const ort = createRequire(import.meta.url)('onnxruntime-node');

const tol = 1e-4;
const [model, dir, label = 'ONNX Runtime vs Go'] = process.argv.slice(2);
if (!model || !dir) {
  console.error('usage: node ort_check.mjs MODEL.onnx DIR [LABEL]');
  process.exit(2);
}

function floats(path) {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
const n = meta.n;
const images = floats(join(dir, 'images.f32'));
const goLogits = floats(join(dir, 'logits.f32'));
const labels = readFileSync(join(dir, 'labels.u8'));
const size = 3 * 32 * 32;

const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 2 });
if (session.inputNames[0] !== 'images' || session.outputNames[0] !== 'logits') {
  console.error(`unexpected input/output names ${session.inputNames} ${session.outputNames}`);
  process.exit(1);
}

async function run(x, batch) {
  const out = await session.run({ images: new ort.Tensor('float32', x, [batch, 3, 32, 32]) });
  const y = out.logits;
  if (y.dims.length !== 2 || y.dims[0] !== batch || y.dims[1] !== 10) {
    throw new Error(`logits of shape ${y.dims} for a batch of ${batch}`);
  }
  return y.data;
}

const all = await run(images, n);
let worst = 0;
for (let i = 0; i < n * 10; i++) worst = Math.max(worst, Math.abs(all[i] - goLogits[i]));
// One by one: the same logits as in the batch.
let single = 0;
for (let i = 0; i < 7; i++) {
  const one = await run(images.subarray(i * size, (i + 1) * size), 1);
  for (let k = 0; k < 10; k++) single = Math.max(single, Math.abs(one[k] - goLogits[i * 10 + k]));
}
const argmax = (a, i) => {
  let best = 0;
  for (let k = 1; k < 10; k++) if (a[i * 10 + k] > a[i * 10 + best]) best = k;
  return best;
};
let same = 0;
let correct = 0;
for (let i = 0; i < n; i++) {
  const p = argmax(all, i);
  if (p === argmax(goLogits, i)) same++;
  if (p === labels[i]) correct++;
}
worst = Math.max(worst, single);
const ok = worst <= tol && same === n;
console.log(`${label}: ${n} images (and 7 one by one), max |logit difference| ${worst.toExponential(2)}, ` +
  `predicted classes identical ${same}/${n} (accuracy ${(100 * correct / n).toFixed(2)}%) -> ${ok ? 'ok' : 'FAILED'}` +
  ` [onnxruntime-node ${ort.env.versions.node}]`);
process.exit(ok ? 0 : 1);
