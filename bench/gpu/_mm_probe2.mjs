import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
const { onnx } = onnxProto;
const n = 256, K = 4;
const type = onnx.TensorProto.DataType.FLOAT;
const w = new Float32Array(n*n).fill(1/n);
const shape = { dim: [{ dimValue: n }, { dimValue: n }] };
const node = [];
let prev = 'x';
for (let i = 0; i < K; i++) { const o = i === K - 1 ? 'y' : `h${i}`; node.push({ opType: 'MatMul', input: [prev, 'w'], output: [o], name: `mm${i}` }); prev = o; }
const i64 = (name, v) => ({ name, dims: [2], dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(new BigInt64Array(v.map(BigInt)).buffer) });
node.push({ opType: 'Slice', input: ['y', 'st', 'en'], output: ['probe'], name: 'sl' });
const model = onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph: { name: 'matmul', node,
  initializer: [{ name: 'w', dims: [n, n], dataType: type, rawData: new Uint8Array(w.buffer) }, i64('st', [0, 0]), i64('en', [1, 1])],
  input: [{ name: 'x', type: { tensorType: { elemType: type, shape } } }],
  output: [{ name: 'y', type: { tensorType: { elemType: type, shape } } }, { name: 'probe', type: { tensorType: { elemType: type, shape: {dim: [{dimValue:1},{dimValue:1}]} } } }] } });
const s = await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish(), { executionProviders: ['webgpu'], logSeverityLevel: 3, preferredOutputLocation: { y: 'gpu-buffer' } });
let x = new ort.Tensor('float32', new Float32Array(n*n).fill(1), [n, n]);
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  const o = await s.run({ x });
  if (x.location === 'gpu-buffer') x.dispose();
  x = o.y;
  console.log(i, o.y.location, o.probe.location, o.probe.data, (performance.now()-t0).toFixed(1));
}
x.dispose();
await s.release();
process.exit(0);
