package io.diem.agent.engine.cuda;

import static jcuda.driver.JCudaDriver.cuCtxCreate;
import static jcuda.driver.JCudaDriver.cuCtxDestroy;
import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemGetInfo;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuStreamCreate;

import io.diem.agent.engine.InferenceEngine;
import io.diem.agent.engine.Sequence;
import io.diem.agent.model.DType;
import io.diem.agent.model.LlamaWeights;
import io.diem.agent.model.Model;
import io.diem.agent.model.Tensor;
import io.diem.v1.ComputeKind;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;

/**
 * The CUDA engine on one GPU (JCuda driver API, kernels from the committed PTX). It owns one context
 * and one stream; every call comes from the GPU's scheduler thread, which makes the context current
 * first. Weights are uploaded once per model as stored (F32, F16 or BF16), norms and biases as
 * float32; placement refuses a model that does not fit with the needed and free bytes. The meter is
 * CUDA event time on the stream around each step.
 */
public final class CudaEngine implements InferenceEngine {

    /** Kernel entry points, loaded once from the PTX. */
    static final class Kernels {
        final CUfunction embedF32, embedF16, embedBf16, rmsnorm, matmulF32, matmulF16, matmulBf16, add, rope, attention, swiglu;
        /** Decode-step variants reading token and position from device memory (for CUDA graphs). */
        final CUfunction embedF32At, embedF16At, embedBf16At, ropeAt, kvStoreAt, attentionAt;

        Kernels(CUmodule m) {
            embedF32 = fn(m, "embed_f32");
            embedF16 = fn(m, "embed_f16");
            embedBf16 = fn(m, "embed_bf16");
            rmsnorm = fn(m, "rmsnorm");
            matmulF32 = fn(m, "matmul_f32");
            matmulF16 = fn(m, "matmul_f16");
            matmulBf16 = fn(m, "matmul_bf16");
            add = fn(m, "add");
            rope = fn(m, "rope");
            attention = fn(m, "attention");
            swiglu = fn(m, "swiglu");
            embedF32At = fn(m, "embed_f32_at");
            embedF16At = fn(m, "embed_f16_at");
            embedBf16At = fn(m, "embed_bf16_at");
            ropeAt = fn(m, "rope_at");
            kvStoreAt = fn(m, "kv_store_at");
            attentionAt = fn(m, "attention_at");
        }

        CUfunction embedAt(DType t) {
            return switch (t) {
                case F32 -> embedF32At;
                case F16 -> embedF16At;
                case BF16 -> embedBf16At;
            };
        }

        private static CUfunction fn(CUmodule m, String name) {
            CUfunction f = new CUfunction();
            cuModuleGetFunction(f, m, name);
            return f;
        }

        CUfunction embed(DType t) {
            return switch (t) {
                case F32 -> embedF32;
                case F16 -> embedF16;
                case BF16 -> embedBf16;
            };
        }

        CUfunction matmul(DType t) {
            return switch (t) {
                case F32 -> matmulF32;
                case F16 -> matmulF16;
                case BF16 -> matmulBf16;
            };
        }
    }

    /** A model's tensors on the device. */
    static final class DeviceModel {
        final Map<Tensor, CUdeviceptr> tensors = new IdentityHashMap<>();
        final List<CUdeviceptr> owned = new ArrayList<>();
        CUdeviceptr invFreq;
    }

    private final CudaSupport.Gpu gpu;
    private final CUcontext context = new CUcontext();
    private final CUstream stream = new CUstream();
    private final Kernels kernels;
    private final Map<Model, DeviceModel> models = new IdentityHashMap<>();

    public CudaEngine(CudaSupport.Gpu gpu) {
        this.gpu = gpu;
        CUdevice device = new CUdevice();
        cuDeviceGet(device, gpu.index());
        cuCtxCreate(context, 0, device);
        cuStreamCreate(stream, 0);
        CUmodule module = new CUmodule();
        cuModuleLoadData(module, ptx());
        this.kernels = new Kernels(module);
    }

    static String ptx() {
        try (InputStream in = CudaEngine.class.getResourceAsStream("kernels.ptx")) {
            if (in == null) {
                throw new IllegalStateException("kernels.ptx is missing from the agent jar (run scripts/build-kernels.sh)");
            }
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read kernels.ptx", e);
        }
    }

    /** The GPU as the probe found it (index, name, UUID, memory at start). */
    public CudaSupport.Gpu probedGpu() {
        return gpu;
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public String device() {
        return "cuda" + gpu.index();
    }

    @Override
    public int parallelism() {
        return 1;
    }

    @Override
    public ComputeKind computeKind() {
        return ComputeKind.COMPUTE_KIND_GPU;
    }

    /** {free, total} device memory in bytes. */
    public long[] memoryInfo() {
        cuCtxSetCurrent(context);
        long[] free = new long[1];
        long[] total = new long[1];
        cuMemGetInfo(free, total);
        return new long[] {free[0], total[0]};
    }

    /** Four fifths of the GPU's free memory now (the node asks at start, after {@link #prepare} uploaded its models). */
    @Override
    public long kvMemoryBytes() {
        return Math.max(1, memoryInfo()[0] / 5 * 4);
    }

    /** The GPU with its current memory use, as the wire reports it. */
    @Override
    public java.util.Optional<io.diem.v1.GpuInfo> gpu() {
        long[] m = memoryInfo();
        return java.util.Optional.of(io.diem.v1.GpuInfo.newBuilder().setIndex(gpu.index()).setName(gpu.name()).setUuid(gpu.uuid())
                .setMemoryTotalBytes(m[1]).setMemoryUsedBytes(m[1] - m[0]).build());
    }

    /** Uploads the model's weights now (once), so that the KV pool is sized from what they leave free. */
    @Override
    public synchronized void prepare(Model model) {
        cuCtxSetCurrent(context);
        if (!models.containsKey(model)) {
            Placement.requireFits("model " + model.name(), Placement.weightBytes(model.weights()), memoryInfo()[0]);
            models.put(model, upload(model));
        }
    }

    @Override
    public synchronized Sequence newSequence(Model model, int capacity) {
        cuCtxSetCurrent(context);
        DeviceModel dm = models.get(model);
        if (dm == null) {
            Placement.requireFits("model " + model.name(), Placement.weightBytes(model.weights())
                    + Placement.sequenceBytes(model.config(), capacity), memoryInfo()[0]);
            dm = upload(model);
            models.put(model, dm);
        }
        Placement.requireFits("a sequence of " + capacity + " tokens of " + model.name(),
                Placement.sequenceBytes(model.config(), capacity), memoryInfo()[0]);
        return new CudaSequence(this, model, dm, capacity);
    }

    CUcontext context() {
        return context;
    }

    CUstream stream() {
        return stream;
    }

    Kernels kernels() {
        return kernels;
    }

    private DeviceModel upload(Model model) {
        LlamaWeights w = model.weights();
        DeviceModel dm = new DeviceModel();
        List<Tensor> small = new ArrayList<>(List.of(w.finalNorm));
        for (int l = 0; l < model.config().layers; l++) {
            small.add(w.attentionNorm[l]);
            small.add(w.ffnNorm[l]);
            for (Tensor b : new Tensor[] {w.bq[l], w.bk[l], w.bv[l], w.bo[l]}) {
                if (b != null) {
                    small.add(b);
                }
            }
        }
        io.diem.common.Progress progress = io.diem.common.Progress.ofLarge(System.err,
                "uploading " + model.name() + " to " + device(), w.bytes());
        for (Tensor t : w.all()) {
            dm.tensors.put(t, small.contains(t) ? floats(dm, t.toFloats()) : stored(dm, t));
            progress.add(t.elements() * t.dtype.bytes);
        }
        progress.done();
        dm.invFreq = floats(dm, toFloat(model.config().ropeScaling.inverseFrequencies(model.config().headDim,
                model.config().ropeTheta)));
        return dm;
    }

    private static float[] toFloat(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }

    /** Copies a tensor's bytes as stored, chunk by chunk. */
    private static CUdeviceptr stored(DeviceModel dm, Tensor t) {
        long bytes = t.elements() * t.dtype.bytes;
        CUdeviceptr p = alloc(dm, bytes);
        long offset = 0;
        for (int row = 0; row < t.rows; ) {
            ByteBuffer chunk = t.chunkOf(row).duplicate();
            chunk.position(t.byteOffsetOf(row));
            int rowsHere = Math.min(t.rows - row, (chunk.limit() - chunk.position()) / (t.cols * t.dtype.bytes));
            long n = (long) rowsHere * t.cols * t.dtype.bytes;
            cuMemcpyHtoD(p.withByteOffset(offset), Pointer.to(chunk.slice()), n);
            offset += n;
            row += rowsHere;
        }
        return p;
    }

    static CUdeviceptr floats(DeviceModel dm, float[] values) {
        CUdeviceptr p = alloc(dm, values.length * 4L);
        cuMemcpyHtoD(p, Pointer.to(values), values.length * 4L);
        return p;
    }

    static CUdeviceptr alloc(DeviceModel dm, long bytes) {
        CUdeviceptr p = new CUdeviceptr();
        cuMemAlloc(p, Math.max(4, bytes));
        dm.owned.add(p);
        return p;
    }

    @Override
    public synchronized void close() {
        cuCtxSetCurrent(context);
        for (DeviceModel dm : models.values()) {
            dm.owned.forEach(p -> cuMemFree(p));
        }
        models.clear();
        cuCtxDestroy(context);
    }
}
