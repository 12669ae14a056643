package io.diem.agent.engine.cuda;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;

import io.diem.agent.engine.Sequence;
import io.diem.agent.model.LlamaWeights;
import io.diem.agent.model.Model;
import io.diem.agent.model.ModelConfig;
import io.diem.agent.model.Tensor;
import java.util.ArrayList;
import java.util.List;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;

/**
 * One sequence on the GPU: activations and KV cache in device memory, the forward pass as kernel
 * launches on the engine's stream, bracketed by two CUDA events whose elapsed time is the step's
 * metered GPU time. Mirrors {@code CpuSequence} step by step.
 */
final class CudaSequence implements Sequence {

    private static final int THREADS = 256;
    /** Rows (one warp each) per matmul block: small blocks spread even the 512-row k/v products over the SMs. */
    private static final int MATMUL_ROWS_PER_BLOCK = 2;
    /** Most prompt tokens one prefill pass takes. */
    private static final int PREFILL_CHUNK = 512;

    private final CudaEngine engine;
    private final CudaEngine.DeviceModel dm;
    private final ModelConfig c;
    private final LlamaWeights w;
    private final int capacity;
    private final List<CUdeviceptr> owned = new ArrayList<>();
    private final CUdeviceptr x, xb, xb2, q, k, v, att, hb, hb2, logits, scores;
    private final CUdeviceptr[] keyCache, valueCache;
    /** Device memory of keyCache and valueCache (float32). */
    private final long kvBytes;
    private final CUevent start = new CUevent();
    private final CUevent end = new CUevent();
    private final float[] hostLogits;
    /** (2 ints) the decode step's token and position, read by the captured graph. */
    private final CUdeviceptr state;
    private jcuda.driver.CUgraphExec graphExec;
    private int position;
    private long lastStepNanos;

    CudaSequence(CudaEngine engine, Model model, CudaEngine.DeviceModel dm, int capacity) {
        this.engine = engine;
        this.dm = dm;
        this.c = model.config();
        this.w = model.weights();
        if (capacity < 2 || capacity > c.contextLength) {
            throw new IllegalArgumentException("sequence capacity must be 2.." + c.contextLength + ", got " + capacity);
        }
        this.capacity = capacity;
        x = buffer(c.dim);
        xb = buffer(c.dim);
        xb2 = buffer(c.dim);
        q = buffer(c.qDim);
        k = buffer(c.kvDim);
        v = buffer(c.kvDim);
        att = buffer(c.qDim);
        hb = buffer(c.hiddenDim);
        hb2 = buffer(c.hiddenDim);
        logits = buffer(c.vocabSize);
        scores = buffer((long) c.heads * capacity);
        kvBytes = 2L * c.layers * capacity * c.kvDim * Float.BYTES;
        keyCache = new CUdeviceptr[c.layers];
        valueCache = new CUdeviceptr[c.layers];
        for (int l = 0; l < c.layers; l++) {
            keyCache[l] = buffer((long) capacity * c.kvDim);
            valueCache[l] = buffer((long) capacity * c.kvDim);
        }
        cuEventCreate(start, 0);
        cuEventCreate(end, 0);
        hostLogits = new float[c.vocabSize];
        state = buffer(2);
    }

    private CUdeviceptr buffer(long floats) {
        CUdeviceptr p = new CUdeviceptr();
        jcuda.driver.JCudaDriver.cuMemAlloc(p, Math.max(4, floats * 4));
        owned.add(p);
        return p;
    }

    @Override
    public int position() {
        return position;
    }

    @Override
    public int capacity() {
        return capacity;
    }

    @Override
    public long lastStepComputeNanos() {
        return lastStepNanos;
    }

    @Override
    public long kvCacheBytes() {
        return kvBytes;
    }

    @Override
    public float[] step(int[] tokens) {
        Sequence.checkStep(tokens, position, capacity, c.vocabSize);
        cuCtxSetCurrent(engine.context());
        cuEventRecord(start, engine.stream());
        if (tokens.length == 1) {
            decodeWithGraph(tokens[0], position);
            position++;
        } else {
            // Long prompts in chunks: bounded scratch memory and grid height.
            for (int from = 0; from < tokens.length; from += PREFILL_CHUNK) {
                int[] chunk = java.util.Arrays.copyOfRange(tokens, from, Math.min(tokens.length, from + PREFILL_CHUNK));
                prefill(chunk, position);
                position += chunk.length;
            }
        }
        cuEventRecord(end, engine.stream());
        cuEventSynchronize(end);
        float[] ms = new float[1];
        cuEventElapsedTime(ms, start, end);
        lastStepNanos = Math.round(ms[0] * 1_000_000.0);
        cuMemcpyDtoH(Pointer.to(hostLogits), logits, c.vocabSize * 4L);
        return hostLogits;
    }

    private CUdeviceptr d(Tensor t) {
        return dm.tensors.get(t);
    }

    /**
     * One decode step as a single CUDA graph launch: the step's ~14 launches per layer are captured
     * once (token and position read from {@code state} in device memory) and replayed, which removes
     * the per-launch host cost that bounds batch-1 decode.
     */
    private void decodeWithGraph(int token, int pos) {
        cuMemcpyHtoDAsync(state, Pointer.to(new int[] {token, pos}), 8, engine.stream());
        if (graphExec == null) {
            jcuda.driver.JCudaDriver.cuStreamBeginCapture(engine.stream(),
                    jcuda.driver.CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
            forwardFromState();
            jcuda.driver.CUgraph graph = new jcuda.driver.CUgraph();
            jcuda.driver.JCudaDriver.cuStreamEndCapture(engine.stream(), graph);
            graphExec = new jcuda.driver.CUgraphExec();
            jcuda.driver.JCudaDriver.cuGraphInstantiate(graphExec, graph, 0);
            jcuda.driver.JCudaDriver.cuGraphDestroy(graph);
        }
        jcuda.driver.JCudaDriver.cuGraphLaunch(graphExec, engine.stream());
    }

    /** The decode forward pass with token and position taken from {@code state}: what the graph holds. */
    private void forwardFromState() {
        CudaEngine.Kernels kn = engine.kernels();
        launch(kn.embedAt(w.tokenEmbedding.dtype), grid(c.dim), THREADS, x, d(w.tokenEmbedding), state, c.dim);
        for (int l = 0; l < c.layers; l++) {
            launch(kn.rmsnorm, 1, 1024, xb, x, d(w.attentionNorm[l]), c.dim, c.rmsNormEps);
            matvec(w.wq[l], xb, q);
            matvec(w.wk[l], xb, k);
            matvec(w.wv[l], xb, v);
            addBias(q, w.bq[l], c.qDim);
            addBias(k, w.bk[l], c.kvDim);
            addBias(v, w.bv[l], c.kvDim);
            launch(kn.ropeAt, grid(c.heads * c.headDim / 2), THREADS, q, c.heads, c.headDim, state, dm.invFreq);
            launch(kn.ropeAt, grid(c.kvHeads * c.headDim / 2), THREADS, k, c.kvHeads, c.headDim, state, dm.invFreq);
            launch(kn.kvStoreAt, grid(c.kvDim), THREADS, keyCache[l], valueCache[l], k, v, c.kvDim, state);
            launch(kn.attentionAt, c.heads, THREADS, att, q, keyCache[l], valueCache[l], scores, c.headDim, c.kvDim,
                    c.groupSize, c.slidingWindow, state, capacity, (float) (1.0 / Math.sqrt(c.headDim)));
            matvec(w.wo[l], att, xb2);
            addBias(xb2, w.bo[l], c.dim);
            launch(kn.add, grid(c.dim), THREADS, x, xb2, c.dim);
            launch(kn.rmsnorm, 1, 1024, xb, x, d(w.ffnNorm[l]), c.dim, c.rmsNormEps);
            matvec(w.wGate[l], xb, hb);
            matvec(w.wUp[l], xb, hb2);
            launch(kn.swiglu, grid(c.hiddenDim), THREADS, hb, hb2, c.hiddenDim);
            matvec(w.wDown[l], hb, xb2);
            launch(kn.add, grid(c.dim), THREADS, x, xb2, c.dim);
        }
        launch(kn.rmsnorm, 1, 1024, xb, x, d(w.finalNorm), c.dim, c.rmsNormEps);
        matvec(w.output, xb, logits);
    }

    /**
     * The prompt in one pass: every projection is a matrix-matrix product over all {@code n} tokens
     * (weights read once per step, not once per token); RoPE and attention run per token at its own
     * position (causal). Logits only for the last token.
     */
    private void prefill(int[] tokens, int pos0) {
        int n = tokens.length;
        CudaEngine.Kernels kn = engine.kernels();
        Prefill p = prefillBuffers(n);
        for (int t = 0; t < n; t++) {
            launch(kn.embed(w.tokenEmbedding.dtype), grid(c.dim), THREADS, row(p.x, t, c.dim), d(w.tokenEmbedding), tokens[t], c.dim);
        }
        for (int l = 0; l < c.layers; l++) {
            launch(kn.rmsnorm, n, 1024, p.xb, p.x, d(w.attentionNorm[l]), c.dim, c.rmsNormEps);
            matmul(w.wq[l], p.xb, p.q, n);
            matmul(w.wk[l], p.xb, p.k, n);
            matmul(w.wv[l], p.xb, p.v, n);
            for (int t = 0; t < n; t++) {
                addBias(row(p.q, t, c.qDim), w.bq[l], c.qDim);
                addBias(row(p.k, t, c.kvDim), w.bk[l], c.kvDim);
                addBias(row(p.v, t, c.kvDim), w.bv[l], c.kvDim);
                launch(kn.rope, grid(c.heads * c.headDim / 2), THREADS, row(p.q, t, c.qDim), c.heads, c.headDim, pos0 + t, dm.invFreq);
                launch(kn.rope, grid(c.kvHeads * c.headDim / 2), THREADS, row(p.k, t, c.kvDim), c.kvHeads, c.headDim, pos0 + t,
                        dm.invFreq);
            }
            cuMemcpyDtoDAsync(keyCache[l].withByteOffset((long) pos0 * c.kvDim * 4), p.k, (long) n * c.kvDim * 4, engine.stream());
            cuMemcpyDtoDAsync(valueCache[l].withByteOffset((long) pos0 * c.kvDim * 4), p.v, (long) n * c.kvDim * 4, engine.stream());
            for (int t = 0; t < n; t++) {
                int pos = pos0 + t;
                int first = c.slidingWindow > 0 ? Math.max(0, pos - c.slidingWindow + 1) : 0;
                launch(kn.attention, c.heads, THREADS, row(p.att, t, c.qDim), row(p.q, t, c.qDim), keyCache[l], valueCache[l], scores,
                        c.headDim, c.kvDim, c.groupSize, first, pos, capacity, (float) (1.0 / Math.sqrt(c.headDim)));
            }
            matmul(w.wo[l], p.att, p.xb2, n);
            for (int t = 0; t < n; t++) {
                addBias(row(p.xb2, t, c.dim), w.bo[l], c.dim);
            }
            launch(kn.add, grid(n * c.dim), THREADS, p.x, p.xb2, n * c.dim);
            launch(kn.rmsnorm, n, 1024, p.xb, p.x, d(w.ffnNorm[l]), c.dim, c.rmsNormEps);
            matmul(w.wGate[l], p.xb, p.hb, n);
            matmul(w.wUp[l], p.xb, p.hb2, n);
            launch(kn.swiglu, grid(n * c.hiddenDim), THREADS, p.hb, p.hb2, n * c.hiddenDim);
            matmul(w.wDown[l], p.hb, p.xb2, n);
            launch(kn.add, grid(n * c.dim), THREADS, p.x, p.xb2, n * c.dim);
        }
        cuMemcpyDtoDAsync(x, row(p.x, n - 1, c.dim), c.dim * 4L, engine.stream()); // decode continues from the last token
        launch(kn.rmsnorm, 1, 1024, xb, x, d(w.finalNorm), c.dim, c.rmsNormEps);
        matvec(w.output, xb, logits);
    }

    /** Scratch of the prefill pass, (tokens × width) row-major, grown on demand. */
    private static final class Prefill {
        int tokens;
        CUdeviceptr x, xb, xb2, q, k, v, att, hb, hb2;
    }

    private Prefill prefill;

    private Prefill prefillBuffers(int n) {
        if (prefill == null || prefill.tokens < n) {
            Prefill p = new Prefill();
            p.tokens = n;
            p.x = buffer((long) n * c.dim);
            p.xb = buffer((long) n * c.dim);
            p.xb2 = buffer((long) n * c.dim);
            p.q = buffer((long) n * c.qDim);
            p.k = buffer((long) n * c.kvDim);
            p.v = buffer((long) n * c.kvDim);
            p.att = buffer((long) n * c.qDim);
            p.hb = buffer((long) n * c.hiddenDim);
            p.hb2 = buffer((long) n * c.hiddenDim);
            prefill = p;
        }
        return prefill;
    }

    private static CUdeviceptr row(CUdeviceptr base, int row, int width) {
        return base.withByteOffset((long) row * width * 4);
    }

    private void matvec(Tensor weight, CUdeviceptr in, CUdeviceptr out) {
        matmul(weight, in, out, 1);
    }

    /** out[t] = W · in[t] for t < tokens: a matrix-vector product for 1 token, matrix-matrix for more. */
    private void matmul(Tensor weight, CUdeviceptr in, CUdeviceptr out, int tokens) {
        int blocks = (weight.rows + MATMUL_ROWS_PER_BLOCK - 1) / MATMUL_ROWS_PER_BLOCK;
        CUfunction f = engine.kernels().matmul(weight.dtype);
        Pointer params = Pointer.to(Pointer.to(out), Pointer.to(d(weight)), Pointer.to(in), Pointer.to(new int[] {weight.rows}),
                Pointer.to(new int[] {weight.cols}), Pointer.to(new int[] {tokens}));
        cuLaunchKernel(f, blocks, tokens, 1, MATMUL_ROWS_PER_BLOCK * 32, 1, 1, 0, engine.stream(), params, null);
    }

    private void addBias(CUdeviceptr x, Tensor bias, int n) {
        if (bias != null) {
            launch(engine.kernels().add, grid(n), THREADS, x, d(bias), n);
        }
    }

    private static int grid(int n) {
        return Math.max(1, Math.min(1024, (n + THREADS - 1) / THREADS));
    }

    /** Launches {@code f} with 1-D grid and block; arguments are device pointers, ints or floats. */
    private void launch(CUfunction f, int blocks, int threads, Object... args) {
        Pointer[] params = new Pointer[args.length];
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            params[i] = a instanceof CUdeviceptr p ? Pointer.to(p)
                    : a instanceof Integer n ? Pointer.to(new int[] {n})
                    : a instanceof Float fl ? Pointer.to(new float[] {fl})
                    : null;
            if (params[i] == null) {
                throw new IllegalArgumentException("unsupported kernel argument " + a);
            }
        }
        cuLaunchKernel(f, blocks, 1, 1, threads, 1, 1, 0, engine.stream(), Pointer.to(params), null);
    }

    @Override
    public void close() {
        cuCtxSetCurrent(engine.context());
        if (graphExec != null) {
            jcuda.driver.JCudaDriver.cuGraphExecDestroy(graphExec);
        }
        owned.forEach(p -> cuMemFree(p));
        owned.clear();
        cuEventDestroy(start);
        cuEventDestroy(end);
    }
}
