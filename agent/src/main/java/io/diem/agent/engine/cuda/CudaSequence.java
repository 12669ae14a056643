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

    private final CudaEngine engine;
    private final CudaEngine.DeviceModel dm;
    private final ModelConfig c;
    private final LlamaWeights w;
    private final int capacity;
    private final List<CUdeviceptr> owned = new ArrayList<>();
    private final CUdeviceptr x, xb, xb2, q, k, v, att, hb, hb2, logits, scores;
    private final CUdeviceptr[] keyCache, valueCache;
    private final CUevent start = new CUevent();
    private final CUevent end = new CUevent();
    private final float[] hostLogits;
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
        keyCache = new CUdeviceptr[c.layers];
        valueCache = new CUdeviceptr[c.layers];
        for (int l = 0; l < c.layers; l++) {
            keyCache[l] = buffer((long) capacity * c.kvDim);
            valueCache[l] = buffer((long) capacity * c.kvDim);
        }
        cuEventCreate(start, 0);
        cuEventCreate(end, 0);
        hostLogits = new float[c.vocabSize];
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
    public float[] step(int[] tokens) {
        if (tokens.length == 0) {
            throw new IllegalArgumentException("a step needs at least one token");
        }
        if (position + tokens.length > capacity) {
            throw new IllegalArgumentException("step of " + tokens.length + " tokens at position " + position
                    + " exceeds the sequence capacity of " + capacity);
        }
        for (int t : tokens) {
            if (t < 0 || t >= c.vocabSize) {
                throw new IllegalArgumentException("token id " + t + " is outside the vocabulary (0.." + (c.vocabSize - 1) + ")");
            }
        }
        cuCtxSetCurrent(engine.context());
        cuEventRecord(start, engine.stream());
        for (int i = 0; i < tokens.length; i++) {
            forward(tokens[i], position, i == tokens.length - 1);
            position++;
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

    private void forward(int token, int pos, boolean wantLogits) {
        CudaEngine.Kernels kn = engine.kernels();
        launch(kn.embed(w.tokenEmbedding.dtype), grid(c.dim), THREADS, x, d(w.tokenEmbedding), token, c.dim);
        int first = c.slidingWindow > 0 ? Math.max(0, pos - c.slidingWindow + 1) : 0;
        for (int l = 0; l < c.layers; l++) {
            // attention rmsnorm
            launch(kn.rmsnorm, 1, 1024, xb, x, d(w.attentionNorm[l]), c.dim, c.rmsNormEps);
            // q, k, v projections (+ biases)
            matvec(w.wq[l], xb, q);
            matvec(w.wk[l], xb, k);
            matvec(w.wv[l], xb, v);
            addBias(q, w.bq[l], c.qDim);
            addBias(k, w.bk[l], c.kvDim);
            addBias(v, w.bv[l], c.kvDim);
            // RoPE
            launch(kn.rope, grid(c.heads * c.headDim / 2), THREADS, q, c.heads, c.headDim, pos, dm.invFreq);
            launch(kn.rope, grid(c.kvHeads * c.headDim / 2), THREADS, k, c.kvHeads, c.headDim, pos, dm.invFreq);
            // append to the KV cache
            cuMemcpyDtoDAsync(keyCache[l].withByteOffset((long) pos * c.kvDim * 4), k, c.kvDim * 4L, engine.stream());
            cuMemcpyDtoDAsync(valueCache[l].withByteOffset((long) pos * c.kvDim * 4), v, c.kvDim * 4L, engine.stream());
            // grouped-query attention
            launch(kn.attention, c.heads, THREADS, att, q, keyCache[l], valueCache[l], scores, c.headDim, c.kvDim,
                    c.groupSize, first, pos, capacity, (float) (1.0 / Math.sqrt(c.headDim)));
            // output projection and residual
            matvec(w.wo[l], att, xb2);
            addBias(xb2, w.bo[l], c.dim);
            launch(kn.add, grid(c.dim), THREADS, x, xb2, c.dim);
            // ffn rmsnorm, SwiGLU, residual
            launch(kn.rmsnorm, 1, 1024, xb, x, d(w.ffnNorm[l]), c.dim, c.rmsNormEps);
            matvec(w.wGate[l], xb, hb);
            matvec(w.wUp[l], xb, hb2);
            launch(kn.swiglu, grid(c.hiddenDim), THREADS, hb, hb2, c.hiddenDim);
            matvec(w.wDown[l], hb, xb2);
            launch(kn.add, grid(c.dim), THREADS, x, xb2, c.dim);
        }
        if (wantLogits) {
            launch(kn.rmsnorm, 1, 1024, xb, x, d(w.finalNorm), c.dim, c.rmsNormEps);
            matvec(w.output, xb, logits);
        }
    }

    private void matvec(Tensor weight, CUdeviceptr in, CUdeviceptr out) {
        int warpsPerBlock = THREADS / 32;
        int blocks = (weight.rows + warpsPerBlock - 1) / warpsPerBlock;
        CUfunction f = engine.kernels().matmul(weight.dtype);
        Pointer params = Pointer.to(Pointer.to(out), Pointer.to(d(weight)), Pointer.to(in), Pointer.to(new int[] {weight.rows}),
                Pointer.to(new int[] {weight.cols}), Pointer.to(new int[] {1}));
        cuLaunchKernel(f, blocks, 1, 1, THREADS, 1, 1, 0, engine.stream(), params, null);
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
        owned.forEach(p -> cuMemFree(p));
        owned.clear();
        cuEventDestroy(start);
        cuEventDestroy(end);
    }
}
