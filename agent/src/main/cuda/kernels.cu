// Kernels of the CUDA engine: the forward pass of a Llama-family decoder in float32 arithmetic,
// weights in F32, F16 or BF16. Each kernel has a CPU twin in engine/cpu/CpuOps (or the CPU forward
// pass) that it is tested against. Compiled to PTX by scripts/build-kernels.sh.
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#define WARP 32

__device__ __forceinline__ float load(const float* p, long i) { return p[i]; }
__device__ __forceinline__ float load(const __half* p, long i) { return __half2float(p[i]); }
__device__ __forceinline__ float load(const __nv_bfloat16* p, long i) { return __bfloat162float(p[i]); }

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = WARP / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = WARP / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, o));
    return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
__device__ float block_sum(float v) {
    __shared__ float partial[32];
    int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
    v = warp_sum(v);
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    float total = threadIdx.x < blockDim.x / WARP ? partial[threadIdx.x] : 0.f;
    if (warp == 0) total = warp_sum(total);
    if (threadIdx.x == 0) partial[0] = total;
    __syncthreads();
    total = partial[0];
    __syncthreads();
    return total;
}

__device__ float block_max(float v) {
    __shared__ float partial[32];
    int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
    v = warp_max(v);
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    float m = threadIdx.x < blockDim.x / WARP ? partial[threadIdx.x] : -INFINITY;
    if (warp == 0) m = warp_max(m);
    if (threadIdx.x == 0) partial[0] = m;
    __syncthreads();
    m = partial[0];
    __syncthreads();
    return m;
}

// out[0..dim) = table[token][0..dim), as float.
template <typename T>
__device__ void embed(float* out, const T* table, int token, int dim) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < dim; i += gridDim.x * blockDim.x)
        out[i] = load(table, (long) token * dim + i);
}
extern "C" __global__ void embed_f32(float* out, const float* t, int token, int dim) { embed(out, t, token, dim); }
extern "C" __global__ void embed_f16(float* out, const __half* t, int token, int dim) { embed(out, t, token, dim); }
extern "C" __global__ void embed_bf16(float* out, const __nv_bfloat16* t, int token, int dim) { embed(out, t, token, dim); }

// out = x / sqrt(mean(x^2) + eps) * w; block b normalizes row b of n elements (prefill: one row per token).
extern "C" __global__ void rmsnorm(float* out, const float* x, const float* w, int n, float eps) {
    x += (long) blockIdx.x * n;
    out += (long) blockIdx.x * n;
    float ss = 0.f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) ss += x[i] * x[i];
    ss = block_sum(ss);
    float scale = rsqrtf(ss / n + eps);
    for (int i = threadIdx.x; i < n; i += blockDim.x) out[i] = w[i] * (x[i] * scale);
}

// Eight weights from one 16-byte load, times eight activations (two 16-byte loads).
__device__ __forceinline__ float dot8(const float* w, const float* x) {
    float4 a = *reinterpret_cast<const float4*>(w), b = *reinterpret_cast<const float4*>(w + 4);
    float4 p = *reinterpret_cast<const float4*>(x), q = *reinterpret_cast<const float4*>(x + 4);
    return a.x * p.x + a.y * p.y + a.z * p.z + a.w * p.w + b.x * q.x + b.y * q.y + b.z * q.z + b.w * q.w;
}
__device__ __forceinline__ float dot8(const __nv_bfloat16* w, const float* x) {
    uint4 u = *reinterpret_cast<const uint4*>(w);
    float4 p = *reinterpret_cast<const float4*>(x), q = *reinterpret_cast<const float4*>(x + 4);
    return __uint_as_float(u.x << 16) * p.x + __uint_as_float(u.x & 0xffff0000u) * p.y
         + __uint_as_float(u.y << 16) * p.z + __uint_as_float(u.y & 0xffff0000u) * p.w
         + __uint_as_float(u.z << 16) * q.x + __uint_as_float(u.z & 0xffff0000u) * q.y
         + __uint_as_float(u.w << 16) * q.z + __uint_as_float(u.w & 0xffff0000u) * q.w;
}
__device__ __forceinline__ float dot8(const __half* w, const float* x) {
    uint4 u = *reinterpret_cast<const uint4*>(w);
    float4 p = *reinterpret_cast<const float4*>(x), q = *reinterpret_cast<const float4*>(x + 4);
    float2 a = __half22float2(*reinterpret_cast<const __half2*>(&u.x));
    float2 b = __half22float2(*reinterpret_cast<const __half2*>(&u.y));
    float2 c = __half22float2(*reinterpret_cast<const __half2*>(&u.z));
    float2 d = __half22float2(*reinterpret_cast<const __half2*>(&u.w));
    return a.x * p.x + a.y * p.y + b.x * p.z + b.y * p.w + c.x * q.x + c.y * q.y + d.x * q.z + d.y * q.w;
}

// out[t][r] = W[r] . x[t] for r < rows, t < tokens: one warp per (row, token), float accumulation.
// tokens = 1 is the decode matrix-vector product; tokens > 1 the prefill matrix-matrix product.
// Rows whose width is a multiple of 8 are read with 16-byte vector loads (every row then starts
// 16-byte aligned); other widths take the scalar loop.
template <typename T>
__device__ void matmul(float* out, const T* w, const float* x, int rows, int cols, int tokens) {
    int warps = blockDim.x / WARP;
    int row = blockIdx.x * warps + threadIdx.x / WARP;
    int t = blockIdx.y;
    if (row >= rows || t >= tokens) return;
    int lane = threadIdx.x % WARP;
    const T* wr = w + (long) row * cols;
    const float* xt = x + (long) t * cols;
    float s = 0.f;
    if (cols % 8 == 0) {
#pragma unroll 4
        for (int c = lane * 8; c < cols; c += WARP * 8) s += dot8(wr + c, xt + c);
    } else {
        for (int c = lane; c < cols; c += WARP) s += load(wr, c) * xt[c];
    }
    s = warp_sum(s);
    if (lane == 0) out[(long) t * rows + row] = s;
}
extern "C" __global__ void matmul_f32(float* o, const float* w, const float* x, int r, int c, int n) { matmul(o, w, x, r, c, n); }
extern "C" __global__ void matmul_f16(float* o, const __half* w, const float* x, int r, int c, int n) { matmul(o, w, x, r, c, n); }
extern "C" __global__ void matmul_bf16(float* o, const __nv_bfloat16* w, const float* x, int r, int c, int n) { matmul(o, w, x, r, c, n); }

// x[i] += y[i]
extern "C" __global__ void add(float* x, const float* y, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) x[i] += y[i];
}

// Rotary embedding, "rotate half" layout: element i pairs with i + headDim/2, angle pos * invFreq[i].
__device__ void rotate(float* x, int heads, int headDim, int pos, const float* invFreq) {
    int half = headDim / 2;
    for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < heads * half; j += gridDim.x * blockDim.x) {
        int h = j / half, i = j % half;
        float s, c;
        sincosf(pos * invFreq[i], &s, &c);
        float* v = x + h * headDim;
        float x0 = v[i], x1 = v[i + half];
        v[i] = x0 * c - x1 * s;
        v[i + half] = x1 * c + x0 * s;
    }
}

extern "C" __global__ void rope(float* x, int heads, int headDim, int pos, const float* invFreq) {
    rotate(x, heads, headDim, pos, invFreq);
}

// Grouped-query attention for one query position over cached positions [first, pos]: one block per
// head. scores: (heads, capacity) scratch. out: (heads * headDim).
__device__ void attend(float* out, const float* q, const float* keys, const float* values, float* scores,
                       int headDim, int kvDim, int groupSize, int first, int pos, int capacity, float scale) {
    int h = blockIdx.x;
    int kvBase = (h / groupSize) * headDim;
    const float* qh = q + h * headDim;
    float* sh = scores + (long) h * capacity;
    int span = pos - first + 1;
    float localMax = -INFINITY;
    for (int t = threadIdx.x; t < span; t += blockDim.x) {
        const float* k = keys + (long) (first + t) * kvDim + kvBase;
        float s = 0.f;
        for (int i = 0; i < headDim; i++) s += qh[i] * k[i];
        s *= scale;
        sh[t] = s;
        localMax = fmaxf(localMax, s);
    }
    float m = block_max(localMax);
    float localSum = 0.f;
    for (int t = threadIdx.x; t < span; t += blockDim.x) {
        float e = __expf(sh[t] - m);
        sh[t] = e;
        localSum += e;
    }
    float inv = 1.f / block_sum(localSum);
    __syncthreads();
    for (int i = threadIdx.x; i < headDim; i += blockDim.x) {
        float acc = 0.f;
        for (int t = 0; t < span; t++) acc += sh[t] * values[(long) (first + t) * kvDim + kvBase + i];
        out[h * headDim + i] = acc * inv;
    }
}

extern "C" __global__ void attention(float* out, const float* q, const float* keys, const float* values, float* scores,
                                     int headDim, int kvDim, int groupSize, int first, int pos, int capacity, float scale) {
    attend(out, q, keys, values, scores, headDim, kvDim, groupSize, first, pos, capacity, scale);
}

// SwiGLU: gate[i] = silu(gate[i]) * up[i]
extern "C" __global__ void swiglu(float* gate, const float* up, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        float g = gate[i];
        gate[i] = g / (1.f + __expf(-g)) * up[i];
    }
}

// ---- Decode-step variants for CUDA graphs: the token and position come from device memory
// (state[0] = token, state[1] = position), so one captured graph serves every decode step.

template <typename T>
__device__ void embed_at(float* out, const T* table, const int* state, int dim) {
    embed(out, table, state[0], dim);
}
extern "C" __global__ void embed_f32_at(float* out, const float* t, const int* s, int dim) { embed_at(out, t, s, dim); }
extern "C" __global__ void embed_f16_at(float* out, const __half* t, const int* s, int dim) { embed_at(out, t, s, dim); }
extern "C" __global__ void embed_bf16_at(float* out, const __nv_bfloat16* t, const int* s, int dim) { embed_at(out, t, s, dim); }

extern "C" __global__ void rope_at(float* x, int heads, int headDim, const int* state, const float* invFreq) {
    rotate(x, heads, headDim, state[1], invFreq);
}

// keys[pos] = k, values[pos] = v (kvDim floats each).
extern "C" __global__ void kv_store_at(float* keys, float* values, const float* k, const float* v, int kvDim, const int* state) {
    long base = (long) state[1] * kvDim;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < kvDim; i += gridDim.x * blockDim.x) {
        keys[base + i] = k[i];
        values[base + i] = v[i];
    }
}

extern "C" __global__ void attention_at(float* out, const float* q, const float* keys, const float* values, float* scores,
                                        int headDim, int kvDim, int groupSize, int window, const int* state, int capacity,
                                        float scale) {
    int pos = state[1];
    attend(out, q, keys, values, scores, headDim, kvDim, groupSize, window > 0 ? max(0, pos - window + 1) : 0, pos, capacity,
           scale);
}
