package io.diem.agent.engine.cuda;

import java.util.ArrayList;
import java.util.List;

/**
 * Whether this machine can run the CUDA engine, asked once: JCuda's driver binding throws
 * {@link UnsatisfiedLinkError} without {@code libcuda.so.1} and is unusable afterwards, so the probe
 * runs at most once per process and its answer (with the reason) is kept.
 */
public final class CudaSupport {

    /** One GPU as the driver reports it. */
    public record Gpu(int index, String name, String uuid, long memoryTotalBytes) {}

    /** The probe's answer: GPUs when usable, else why not. */
    public record Probe(List<Gpu> gpus, String reason) {
        public boolean available() {
            return !gpus.isEmpty();
        }
    }

    private static Probe probe;

    private CudaSupport() {}

    public static synchronized Probe probe() {
        if (probe == null) {
            probe = run();
        }
        return probe;
    }

    private static Probe run() {
        try {
            jcuda.driver.JCudaDriver.setExceptionsEnabled(true);
            jcuda.driver.JCudaDriver.cuInit(0);
            int[] count = new int[1];
            jcuda.driver.JCudaDriver.cuDeviceGetCount(count);
            List<Gpu> gpus = new ArrayList<>();
            for (int i = 0; i < count[0]; i++) {
                jcuda.driver.CUdevice device = new jcuda.driver.CUdevice();
                jcuda.driver.JCudaDriver.cuDeviceGet(device, i);
                byte[] name = new byte[256];
                jcuda.driver.JCudaDriver.cuDeviceGetName(name, name.length, device);
                long[] memory = new long[1];
                jcuda.driver.JCudaDriver.cuDeviceTotalMem(memory, device);
                jcuda.driver.CUuuid uuid = new jcuda.driver.CUuuid();
                jcuda.driver.JCudaDriver.cuDeviceGetUuid(uuid, device);
                gpus.add(new Gpu(i, cString(name), "GPU-" + io.diem.sign.Hashes.hex(uuid.bytes), memory[0]));
            }
            return new Probe(List.copyOf(gpus), gpus.isEmpty() ? "the CUDA driver reports no GPU" : "");
        } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
            return new Probe(List.of(), "no CUDA driver (libcuda.so.1 not loadable: " + firstLine(e.getMessage()) + ")");
        } catch (RuntimeException e) {
            return new Probe(List.of(), "the CUDA driver failed to start: " + firstLine(e.getMessage()));
        }
    }

    private static String cString(byte[] bytes) {
        int n = 0;
        while (n < bytes.length && bytes[n] != 0) {
            n++;
        }
        return new String(bytes, 0, n, java.nio.charset.StandardCharsets.US_ASCII);
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "unknown error";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
