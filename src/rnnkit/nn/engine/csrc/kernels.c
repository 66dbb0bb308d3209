/* The fused engine's C kernels (rnnkit/nn/engine/kernels.py documents their conventions and
   calls them through ctypes). Plain C with OpenMP, no PyTorch headers: kernels.py compiles this
   file with the system C compiler on first use (-O3 -march=native -fopenmp) and caches the
   library under a key that includes this file's text. */

#include <math.h>
#include <omp.h>
#include <stdint.h>

#include <string.h>

/* exp for float that the compiler can vectorise (Cephes' polynomial, about 1 ulp). */
static inline float exp_f32(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  float k = rintf(x * 1.44269504088896341f);
  float r = x - k * 0.693359375f + k * 2.12194440e-4f;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r * r + r + 1.0f;
  int32_t bits = ((int32_t)k + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

static inline float tanh_f32(float x) {
  float e = exp_f32(-2.0f * fabsf(x));
  return copysignf((1.0f - e) / (1.0f + e), x);
}

#define R __restrict__

/* bfloat16 autocast: the state and gate math stay float32 while the matrix products read and
   write bfloat16. The *_bf variants read W_hh h in bfloat16 and also write bfloat16 copies of
   what the next products read (h_t; the gate gradients), sparing a conversion pass each. One
   macro per kernel makes every variant from the same lines: GT is the type W_hh h is read as,
   LD converts it, BF(...) keeps the bf16 stores (KEEP) or drops them (DROP). Every variant has
   the same arguments; the plain ones ignore their bf16 outputs (NULL from Python). */
typedef uint16_t bf16;
static inline float bf2f(bf16 v) {
  uint32_t u = (uint32_t)v << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}
static inline bf16 f2bf(float f) { /* round to nearest even, as torch does */
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (bf16)((u >> 16) | 0x40u); /* NaN stays NaN */
  u += 0x7fffu + ((u >> 16) & 1u);
  return (bf16)(u >> 16);
}
#define SAME(x) (x)
#define KEEP(...) __VA_ARGS__
#define DROP(...)
static inline float sig_f32(float x) { return 1.0f / (1.0f + exp_f32(-x)); }
static inline double sig_f64(double x) { return 1.0 / (1.0 + exp(-x)); }

#define LSTM_FWD(NAME, T, GT, LD, SIG, TANH, BF) \
void NAME(int64_t N, int64_t H, const T* R gi, const GT* R gh, const T* R b, const T* R cp, \
          T* R gates, T* R c, T* R tc, T* R h, bf16* R hb) { \
  _Pragma("omp parallel for schedule(static) if (N * H >= 8192)") \
  for (int64_t n = 0; n < N; ++n) { \
    const T* R a = gi + n * 4 * H; const GT* R r = gh + n * 4 * H; T* R g = gates + n * 4 * H; \
    const T* R cpn = cp + n * H; T* R cn = c + n * H; T* R tn = tc + n * H; T* R hn = h + n * H; \
    _Pragma("omp simd") \
    for (int64_t j = 0; j < H; ++j) { \
      T ii = SIG(a[j] + LD(r[j]) + b[j]); \
      T ff = SIG(a[H + j] + LD(r[H + j]) + b[H + j]); \
      T gg = TANH(a[2 * H + j] + LD(r[2 * H + j]) + b[2 * H + j]); \
      T oo = SIG(a[3 * H + j] + LD(r[3 * H + j]) + b[3 * H + j]); \
      T cc = ff * cpn[j] + ii * gg; \
      T tt = TANH(cc); \
      g[j] = ii; g[H + j] = ff; g[2 * H + j] = gg; g[3 * H + j] = oo; \
      cn[j] = cc; tn[j] = tt; hn[j] = oo * tt; \
      BF(hb[n * H + j] = f2bf(oo * tt);) \
    } \
  } \
}

#define LSTM_BWD(NAME, T, BF) \
void NAME(int64_t N, int64_t H, const T* R gates, const T* R cp, const T* R tc, \
          const T* R dh1, const T* R dh2, T* R dc, T* R dpre, bf16* R dpreb) { \
  _Pragma("omp parallel for schedule(static) if (N * H >= 8192)") \
  for (int64_t n = 0; n < N; ++n) { \
    const T* R g = gates + n * 4 * H; T* R d = dpre + n * 4 * H; \
    const T* R cpn = cp + n * H; const T* R tn = tc + n * H; \
    const T* R d1 = dh1 + n * H; const T* R d2 = dh2 + n * H; T* R dcn = dc + n * H; \
    _Pragma("omp simd") \
    for (int64_t j = 0; j < H; ++j) { \
      T ii = g[j], ff = g[H + j], gg = g[2 * H + j], oo = g[3 * H + j], tt = tn[j]; \
      T dh = d1[j] + d2[j]; \
      T dcc = dcn[j] + dh * oo * ((T)1 - tt * tt); \
      T e0 = dcc * gg * ii * ((T)1 - ii), e1 = dcc * cpn[j] * ff * ((T)1 - ff); \
      T e2 = dcc * ii * ((T)1 - gg * gg), e3 = dh * tt * oo * ((T)1 - oo); \
      d[j] = e0; d[H + j] = e1; d[2 * H + j] = e2; d[3 * H + j] = e3; \
      BF(bf16* R db = dpreb + n * 4 * H; \
         db[j] = f2bf(e0); db[H + j] = f2bf(e1); db[2 * H + j] = f2bf(e2); \
         db[3 * H + j] = f2bf(e3);) \
      dcn[j] = dcc * ff; \
    } \
  } \
}

#define GRU_FWD(NAME, T, GT, LD, SIG, TANH, BF) \
void NAME(int64_t N, int64_t H, const T* R gi, const T* R bi, const GT* R gh, const T* R b, \
          const T* R hp, T* R gates, T* R hn, T* R h, bf16* R hb) { \
  _Pragma("omp parallel for schedule(static) if (N * H >= 8192)") \
  for (int64_t n = 0; n < N; ++n) { \
    const T* R a = gi + n * 3 * H; const GT* R r = gh + n * 3 * H; T* R g = gates + n * 3 * H; \
    const T* R hpn = hp + n * H; T* R hnn = hn + n * H; T* R ho = h + n * H; \
    _Pragma("omp simd") \
    for (int64_t j = 0; j < H; ++j) { \
      T rr = SIG(a[j] + bi[j] + LD(r[j]) + b[j]); \
      T zz = SIG(a[H + j] + bi[H + j] + LD(r[H + j]) + b[H + j]); \
      T q = LD(r[2 * H + j]) + b[2 * H + j]; \
      T nn = TANH(a[2 * H + j] + bi[2 * H + j] + rr * q); \
      T hh = nn + zz * (hpn[j] - nn); \
      g[j] = rr; g[H + j] = zz; g[2 * H + j] = nn; hnn[j] = q; \
      ho[j] = hh; \
      BF(hb[n * H + j] = f2bf(hh);) \
    } \
  } \
}

#define GRU_BWD(NAME, T, BF) \
void NAME(int64_t N, int64_t H, const T* R gates, const T* R hn, const T* R hp, \
          const T* R dh1, const T* R dh2, T* R dgi, T* R dgh, T* R dhp, bf16* R dgib, \
          bf16* R dghb) { \
  _Pragma("omp parallel for schedule(static) if (N * H >= 8192)") \
  for (int64_t n = 0; n < N; ++n) { \
    const T* R g = gates + n * 3 * H; const T* R q = hn + n * H; const T* R hpn = hp + n * H; \
    const T* R d1 = dh1 + n * H; const T* R d2 = dh2 + n * H; \
    T* R di = dgi + n * 3 * H; T* R dr = dgh + n * 3 * H; T* R dp = dhp + n * H; \
    _Pragma("omp simd") \
    for (int64_t j = 0; j < H; ++j) { \
      T rr = g[j], zz = g[H + j], nn = g[2 * H + j]; \
      T dh = d1[j] + d2[j]; \
      T dn = dh * ((T)1 - zz) * ((T)1 - nn * nn); \
      T drr = dn * q[j] * rr * ((T)1 - rr); \
      T dzz = dh * (hpn[j] - nn) * zz * ((T)1 - zz); \
      di[j] = drr; di[H + j] = dzz; di[2 * H + j] = dn; \
      dr[j] = drr; dr[H + j] = dzz; dr[2 * H + j] = dn * rr; \
      BF(bf16* R dib = dgib + n * 3 * H; bf16* R drb = dghb + n * 3 * H; \
         bf16 brr = f2bf(drr), bzz = f2bf(dzz); \
         dib[j] = brr; dib[H + j] = bzz; dib[2 * H + j] = f2bf(dn); \
         drb[j] = brr; drb[H + j] = bzz; drb[2 * H + j] = f2bf(dn * rr);) \
      dp[j] = dh * zz; \
    } \
  } \
}

#define RNN_FWD(NAME, T, GT, LD, SIG, TANH, BF) /* SIG unused: one variant list */ \
void NAME(int64_t M, const T* R gi, const GT* R gh, const T* R b, int64_t H, int relu, \
          T* R h, bf16* R hb) { \
  _Pragma("omp parallel for schedule(static) if (M >= 8192)") \
  for (int64_t n = 0; n < M / H; ++n) { \
    const T* R a = gi + n * H; const GT* R r = gh + n * H; T* R o = h + n * H; \
    if (relu) { \
      _Pragma("omp simd") \
      for (int64_t j = 0; j < H; ++j) { \
        T p = a[j] + LD(r[j]) + b[j]; \
        T v = p > 0 ? p : (T)0; \
        o[j] = v; \
        BF(hb[n * H + j] = f2bf(v);) \
      } \
    } else { \
      _Pragma("omp simd") \
      for (int64_t j = 0; j < H; ++j) { \
        T v = TANH(a[j] + LD(r[j]) + b[j]); \
        o[j] = v; \
        BF(hb[n * H + j] = f2bf(v);) \
      } \
    } \
  } \
}

#define RNN_BWD(NAME, T, BF) \
void NAME(int64_t M, const T* R h, const T* R dh1, const T* R dh2, int relu, T* R dpre, \
          bf16* R dpreb) { \
  _Pragma("omp parallel for schedule(static) if (M >= 8192)") \
  for (int64_t k = 0; k < M; ++k) { \
    T dh = dh1[k] + dh2[k]; \
    T d = relu ? (h[k] > 0 ? dh : (T)0) : dh * ((T)1 - h[k] * h[k]); \
    dpre[k] = d; \
    BF(dpreb[k] = f2bf(d);) \
  } \
}

/* Each kernel in float32, float64 and with bf16 operands (float32 state). */
#define FORWARD_VARIANTS(KERNEL, NAME) \
KERNEL(NAME##_f32, float, float, SAME, sig_f32, tanh_f32, DROP) \
KERNEL(NAME##_f64, double, double, SAME, sig_f64, tanh, DROP) \
KERNEL(NAME##_bf, float, bf16, bf2f, sig_f32, tanh_f32, KEEP)
#define BACKWARD_VARIANTS(KERNEL, NAME) \
KERNEL(NAME##_f32, float, DROP) KERNEL(NAME##_f64, double, DROP) KERNEL(NAME##_bf, float, KEEP)

FORWARD_VARIANTS(LSTM_FWD, lstm_fwd)
FORWARD_VARIANTS(GRU_FWD, gru_fwd)
FORWARD_VARIANTS(RNN_FWD, rnn_fwd)
BACKWARD_VARIANTS(LSTM_BWD, lstm_bwd)
BACKWARD_VARIANTS(GRU_BWD, gru_bwd)
BACKWARD_VARIANTS(RNN_BWD, rnn_bwd)

/* LSTM with layer norm on W_hh h (per gate block, gain lg) and on the cell state (cw, cb). */
#define DEFINE_LN_KERNELS(T, SUF, TANH, SQRT) \
void lstm_ln_fwd_##SUF(int64_t N, int64_t H, T eps, const T* R gi, const T* R gh, \
                       const T* R lg, const T* R b, const T* R cw, const T* R cb, \
                       const T* R cp, T* R xh, T* R rh, T* R gates, T* R c, T* R xc, T* R rc, \
                       T* R tc, T* R h) { \
  _Pragma("omp parallel for schedule(static) if (N * H >= 8192)") \
  for (int64_t n = 0; n < N; ++n) { \
    const T* a = gi + n * 4 * H; const T* r = gh + n * 4 * H; \
    T* x = xh + n * 4 * H; T* g = gates + n * 4 * H; \
    for (int64_t k = 0; k < 4; ++k) { \
      T mean = 0, var = 0; \
      _Pragma("omp simd reduction(+:mean)") \
      for (int64_t j = 0; j < H; ++j) mean += r[k * H + j]; \
      mean /= (T)H; \
      _Pragma("omp simd reduction(+:var)") \
      for (int64_t j = 0; j < H; ++j) { T d = r[k * H + j] - mean; var += d * d; } \
      T rstd = (T)1 / SQRT(var / (T)H + eps); \
      rh[n * 4 + k] = rstd; \
      _Pragma("omp simd") \
      for (int64_t j = 0; j < H; ++j) x[k * H + j] = (r[k * H + j] - mean) * rstd; \
    } \
    const T* cpn = cp + n * H; T* cn = c + n * H; \
    T mean = 0, var = 0; \
    _Pragma("omp simd reduction(+:mean)") \
    for (int64_t j = 0; j < H; ++j) { \
      T ii = sig_##SUF(a[j] + x[j] * lg[j] + b[j]); \
      T ff = sig_##SUF(a[H + j] + x[H + j] * lg[H + j] + b[H + j]); \
      T gg = TANH(a[2 * H + j] + x[2 * H + j] * lg[2 * H + j] + b[2 * H + j]); \
      T oo = sig_##SUF(a[3 * H + j] + x[3 * H + j] * lg[3 * H + j] + b[3 * H + j]); \
      g[j] = ii; g[H + j] = ff; g[2 * H + j] = gg; g[3 * H + j] = oo; \
      T cc = ff * cpn[j] + ii * gg; \
      cn[j] = cc; mean += cc; \
    } \
    mean /= (T)H; \
    _Pragma("omp simd reduction(+:var)") \
    for (int64_t j = 0; j < H; ++j) { T d = cn[j] - mean; var += d * d; } \
    T rstd = (T)1 / SQRT(var / (T)H + eps); \
    rc[n] = rstd; \
    T* xcn = xc + n * H; T* tn = tc + n * H; T* hn = h + n * H; \
    _Pragma("omp simd") \
    for (int64_t j = 0; j < H; ++j) { \
      T xx = (cn[j] - mean) * rstd; \
      T tt = TANH(xx * cw[j] + cb[j]); \
      xcn[j] = xx; tn[j] = tt; hn[j] = g[3 * H + j] * tt; \
    } \
  } \
} \
 \
void lstm_ln_bwd_##SUF(int64_t N, int64_t H, const T* R gates, const T* R cp, const T* R xc, \
                       const T* R rc, const T* R tc, const T* R cw, const T* R xh, \
                       const T* R rh, const T* R lg, const T* R dh1, const T* R dh2, \
                       T* R dc, T* R dpre, T* R draw, T* R dcn) { \
  _Pragma("omp parallel for schedule(static) if (N * H >= 8192)") \
  for (int64_t n = 0; n < N; ++n) { \
    const T* g = gates + n * 4 * H; const T* x = xh + n * 4 * H; const T* xcn = xc + n * H; \
    const T* cpn = cp + n * H; const T* tn = tc + n * H; \
    const T* d1 = dh1 + n * H; const T* d2 = dh2 + n * H; \
    T* d = dpre + n * 4 * H; T* dr = draw + n * 4 * H; T* dcc_ = dc + n * H; T* dn = dcn + n * H; \
    T s1 = 0, s2 = 0; \
    _Pragma("omp simd reduction(+:s1,s2)") \
    for (int64_t j = 0; j < H; ++j) { \
      T tt = tn[j], dh = d1[j] + d2[j]; \
      T dnn = dh * g[3 * H + j] * ((T)1 - tt * tt); \
      dn[j] = dnn; \
      T dx = dnn * cw[j]; \
      s1 += dx; s2 += dx * xcn[j]; \
    } \
    T m1 = s1 / (T)H, m2 = s2 / (T)H, rstd = rc[n]; \
    _Pragma("omp simd") \
    for (int64_t j = 0; j < H; ++j) { \
      T ii = g[j], ff = g[H + j], gg = g[2 * H + j], oo = g[3 * H + j], tt = tn[j]; \
      T dh = d1[j] + d2[j]; \
      T dcc = dcc_[j] + rstd * (dn[j] * cw[j] - m1 - xcn[j] * m2); \
      d[j] = dcc * gg * ii * ((T)1 - ii); \
      d[H + j] = dcc * cpn[j] * ff * ((T)1 - ff); \
      d[2 * H + j] = dcc * ii * ((T)1 - gg * gg); \
      d[3 * H + j] = dh * tt * oo * ((T)1 - oo); \
      dcc_[j] = dcc * ff; \
    } \
    for (int64_t k = 0; k < 4; ++k) { \
      const T* dk = d + k * H; const T* xk = x + k * H; const T* lk = lg + k * H; \
      T a1 = 0, a2 = 0; \
      _Pragma("omp simd reduction(+:a1,a2)") \
      for (int64_t j = 0; j < H; ++j) { T e = dk[j] * lk[j]; a1 += e; a2 += e * xk[j]; } \
      a1 /= (T)H; a2 /= (T)H; \
      T rs = rh[n * 4 + k]; \
      _Pragma("omp simd") \
      for (int64_t j = 0; j < H; ++j) dr[k * H + j] = rs * (dk[j] * lk[j] - a1 - xk[j] * a2); \
    } \
  } \
}

DEFINE_LN_KERNELS(float, f32, tanh_f32, sqrtf)
DEFINE_LN_KERNELS(double, f64, tanh, sqrt)

/* Layer norm of each H-wide block of x (M rows of G blocks), scaled by w (G*H): a whole
   sequence's W_ih x at once. Backward: dx, and per-thread partial sums of dw (threads, G*H). */
#define DEFINE_BLOCK_LN(T, SUF, SQRT) \
void block_ln_fwd_##SUF(int64_t M, int64_t G, int64_t H, T eps, const T* R x, const T* R w, \
                        T* R y, T* R xh, T* R rs) { \
  _Pragma("omp parallel for schedule(static) if (M * G * H >= 8192)") \
  for (int64_t m = 0; m < M * G; ++m) { \
    const T* R a = x + m * H; const T* R wk = w + (m % G) * H; \
    T* R o = y + m * H; T* R n = xh + m * H; \
    T mean = 0, var = 0; \
    _Pragma("omp simd reduction(+:mean)") \
    for (int64_t j = 0; j < H; ++j) mean += a[j]; \
    mean /= (T)H; \
    _Pragma("omp simd reduction(+:var)") \
    for (int64_t j = 0; j < H; ++j) { T d = a[j] - mean; var += d * d; } \
    T r = (T)1 / SQRT(var / (T)H + eps); \
    rs[m] = r; \
    _Pragma("omp simd") \
    for (int64_t j = 0; j < H; ++j) { T v = (a[j] - mean) * r; n[j] = v; o[j] = v * wk[j]; } \
  } \
} \
 \
void block_ln_bwd_##SUF(int64_t M, int64_t G, int64_t H, int64_t threads, const T* R dy, \
                        const T* R xh, const T* R rs, const T* R w, T* R dx, T* R dw) { \
  _Pragma("omp parallel num_threads(threads)") \
  { \
    T* R acc = dw + (int64_t)omp_get_thread_num() * G * H; \
    _Pragma("omp for schedule(static)") \
    for (int64_t m = 0; m < M * G; ++m) { \
      const T* R d = dy + m * H; const T* R n = xh + m * H; \
      const T* R wk = w + (m % G) * H; T* R ak = acc + (m % G) * H; T* R o = dx + m * H; \
      T s1 = 0, s2 = 0; \
      _Pragma("omp simd reduction(+:s1,s2)") \
      for (int64_t j = 0; j < H; ++j) { \
        T e = d[j] * wk[j]; s1 += e; s2 += e * n[j]; ak[j] += d[j] * n[j]; \
      } \
      s1 /= (T)H; s2 /= (T)H; \
      T r = rs[m]; \
      _Pragma("omp simd") \
      for (int64_t j = 0; j < H; ++j) o[j] = r * (d[j] * wk[j] - s1 - n[j] * s2); \
    } \
  } \
}

DEFINE_BLOCK_LN(float, f32, sqrtf)
DEFINE_BLOCK_LN(double, f64, sqrt)

/* Column sums of a ⊙ b over M rows of K (a layer-norm gain's gradient), without the product
   as a tensor: each thread adds its rows into its own row of partial (threads, K). */
#define DEFINE_COL_DOT(T, SUF) \
void col_dot_##SUF(int64_t M, int64_t K, int64_t threads, const T* R a, const T* R b, \
                   T* R partial) { \
  _Pragma("omp parallel num_threads(threads)") \
  { \
    T* R acc = partial + (int64_t)omp_get_thread_num() * K; \
    _Pragma("omp for schedule(static)") \
    for (int64_t m = 0; m < M; ++m) { \
      const T* R x = a + m * K; const T* R y = b + m * K; \
      _Pragma("omp simd") \
      for (int64_t k = 0; k < K; ++k) acc[k] += x[k] * y[k]; \
    } \
  } \
}

DEFINE_COL_DOT(float, f32)
DEFINE_COL_DOT(double, f64)

/* ---- The GRU's whole time loop in C (float32, plain cell) ------------------------------------
   Per step the fused engine's Python loop makes a matrix product (MKL or oneDNN, ~15 us of call
   cost before any arithmetic at a batch of 16), a ctypes call to the gate kernel and a few
   tensor ops; at the small sizes of music or speech models (16 x 128) those costs are as large
   as the arithmetic. Here one call runs every step: the recurrent product by a register-blocked
   kernel (C[n, j] = Σ_k A[n, k] B[k, j]: W_hh packed once per call into 16-column panels,
   6 rows x 16 columns of accumulators, a panel staying in L1 across the row blocks), then the
   same gate math as gru_fwd_f32 / gru_bwd_f32. Rows with valid[t, n] == 0 (past a sequence's
   length) keep their state, as the Python loop's freeze does. With threads > 1 and a product
   of at least SEQ_PARALLEL_WORK multiply-adds the panels and the rows are shared out inside
   one parallel region that spans the loop (two or three barriers a step). */
#define SEQ_PARALLEL_WORK (1 << 18)

/* B (K, M), element [k, j] at B[k * sk + j * sj], as 16-column panels, each K x 16 contiguous
   (the last one zero-padded): Bp (ceil(M / 16), K, 16). */
static void mm_pack(int64_t K, int64_t M, const float* R B, int64_t sk, int64_t sj,
                    float* R Bp) {
  int64_t panels = (M + 15) / 16;
  for (int64_t p = 0; p < panels; ++p)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < 16; ++j) {
        int64_t col = p * 16 + j;
        Bp[(p * K + k) * 16 + j] = col < M ? B[k * sk + col * sj] : 0.0f;
      }
}

/* C[0:rows, 0:width] = A[0:rows, :] Bp_panel (K x 16) for rows <= 6, A rows lda apart, C rows
   ldc apart: 6 x 16 accumulators in 12 of the 16 AVX registers (named, so that the compiler
   keeps them there; fewer rows repeat the last one's arithmetic and store only theirs). */
static inline void store_row(float* R c, const float* R v, int64_t width) {
  memcpy(c, v, width * sizeof(float));
}
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
static inline void mm_6x16(int64_t K, int64_t rows, const float* R A, int64_t lda,
                           const float* R Bp, float* R C, int64_t ldc, int64_t width) {
  const float* a0 = A; const float* a1 = rows > 1 ? A + lda : a0;
  const float* a2 = rows > 2 ? A + 2 * lda : a1; const float* a3 = rows > 3 ? A + 3 * lda : a2;
  const float* a4 = rows > 4 ? A + 4 * lda : a3; const float* a5 = rows > 5 ? A + 5 * lda : a4;
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
         c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int64_t k = 0; k < K; ++k) {
    __m256 b0 = _mm256_loadu_ps(Bp + k * 16), b1 = _mm256_loadu_ps(Bp + k * 16 + 8), a;
    a = _mm256_broadcast_ss(a0 + k); c00 = _mm256_fmadd_ps(a, b0, c00);
    c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(a1 + k); c10 = _mm256_fmadd_ps(a, b0, c10);
    c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(a2 + k); c20 = _mm256_fmadd_ps(a, b0, c20);
    c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(a3 + k); c30 = _mm256_fmadd_ps(a, b0, c30);
    c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(a4 + k); c40 = _mm256_fmadd_ps(a, b0, c40);
    c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(a5 + k); c50 = _mm256_fmadd_ps(a, b0, c50);
    c51 = _mm256_fmadd_ps(a, b1, c51);
  }
  float out[6][16];
  _mm256_storeu_ps(out[0], c00); _mm256_storeu_ps(out[0] + 8, c01);
  _mm256_storeu_ps(out[1], c10); _mm256_storeu_ps(out[1] + 8, c11);
  _mm256_storeu_ps(out[2], c20); _mm256_storeu_ps(out[2] + 8, c21);
  _mm256_storeu_ps(out[3], c30); _mm256_storeu_ps(out[3] + 8, c31);
  _mm256_storeu_ps(out[4], c40); _mm256_storeu_ps(out[4] + 8, c41);
  _mm256_storeu_ps(out[5], c50); _mm256_storeu_ps(out[5] + 8, c51);
  for (int64_t i = 0; i < rows; ++i) store_row(C + i * ldc, out[i], width);
}
#else
static inline void mm_6x16(int64_t K, int64_t rows, const float* R A, int64_t lda,
                           const float* R Bp, float* R C, int64_t ldc, int64_t width) {
  float acc[6][16] = {{0}};
  for (int64_t k = 0; k < K; ++k)
    for (int64_t i = 0; i < rows; ++i) {
      float a = A[i * lda + k];
      _Pragma("omp simd")
      for (int j = 0; j < 16; ++j) acc[i][j] += a * Bp[k * 16 + j];
    }
  for (int64_t i = 0; i < rows; ++i) store_row(C + i * ldc, acc[i], width);
}
#endif

/* C (N, M) = A (N, K) Bp, Bp packed by mm_pack; the 16-column panels shared among the threads
   of the enclosing parallel region (an orphaned omp for: one thread runs them all outside). */
static void mm_shared(int64_t N, int64_t K, int64_t M, const float* R A, const float* R Bp,
                      float* R C) {
  int64_t panels = (M + 15) / 16;
  _Pragma("omp for schedule(static)")
  for (int64_t p = 0; p < panels; ++p) {
    int64_t j0 = p * 16, width = M - j0 < 16 ? M - j0 : 16;
    const float* R bp = Bp + p * K * 16;
    for (int64_t n = 0; n < N; n += 6) {
      int64_t rows = N - n < 6 ? N - n : 6;
      mm_6x16(K, rows, A + n * K, K, bp, C + n * M + j0, M, width);
    }
  }
}

/* Forward over L steps. gi (L, N, 3H) without b_ih; bi = b_ih, b = b_hh (3H); w = W_hh
   (3H, H), wp scratch for its packed transpose (ceil(3H / 16) * H * 16); hall (L+1, N, H)
   holds h_0 and receives h_1..h_L; gates (L, N, 3H) and hn (L, N, H) receive r, z, n and
   W_hn h + b_hn (with keep == 0 one step's buffers, rewritten each step); valid (L, N) bytes
   or NULL; gh (N, 3H) scratch. */
void gru_seq_fwd_f32(int64_t L, int64_t N, int64_t H, int64_t keep, int64_t threads,
                     const float* R gi, const float* R bi, const float* R w, const float* R b,
                     float* R hall, float* R gates, float* R hn, const uint8_t* R valid,
                     float* R gh, float* R wp) {
  int64_t G = 3 * H;
  mm_pack(H, G, w, 1, H, wp); /* B[k, j] = W_hh[j, k] */
  int parallel = threads > 1 && N * G * H >= SEQ_PARALLEL_WORK;
  _Pragma("omp parallel num_threads(threads) if (parallel)")
  for (int64_t t = 0; t < L; ++t) {
    const float* R hp = hall + t * N * H;
    float* R ho = hall + (t + 1) * N * H;
    float* R gs = gates + (keep ? t * N * G : 0);
    float* R qs = hn + (keep ? t * N * H : 0);
    mm_shared(N, H, G, hp, wp, gh); /* implicit barrier: gh complete */
    _Pragma("omp for schedule(static)")
    for (int64_t n = 0; n < N; ++n) {
      const float* R a = gi + (t * N + n) * G; const float* R r = gh + n * G;
      float* R g = gs + n * G; float* R q = qs + n * H;
      const float* R hpn = hp + n * H; float* R hon = ho + n * H;
      if (valid != NULL && !valid[t * N + n]) {
        memcpy(hon, hpn, H * sizeof(float));
        continue;
      }
      _Pragma("omp simd")
      for (int64_t j = 0; j < H; ++j) {
        float rr = sig_f32(a[j] + bi[j] + r[j] + b[j]);
        float zz = sig_f32(a[H + j] + bi[H + j] + r[H + j] + b[H + j]);
        float qq = r[2 * H + j] + b[2 * H + j];
        float nn = tanh_f32(a[2 * H + j] + bi[2 * H + j] + rr * qq);
        g[j] = rr; g[H + j] = zz; g[2 * H + j] = nn; q[j] = qq;
        hon[j] = nn + zz * (hpn[j] - nn);
      }
    } /* implicit barrier: h_t complete before the next product reads it */
  }
}

/* Backward over L steps, in reverse. gates, hn (L, N, ...) and hall (L+1, N, H) as the forward
   left them; w (3H, H) = W_hh; dout (L, N, H) the gradient reaching each output (zero past
   the lengths); dh (N, H) in: the gradient reaching h_L, out: the one reaching h_0. Fills dgi
   and dgh (L, N, 3H) (the gradients of gi and of W_hh h + b_hh; zero past the lengths);
   direct, dnew (N, H) and wp (ceil(H / 16) * 3H * 16: W_hh packed) scratch. */
void gru_seq_bwd_f32(int64_t L, int64_t N, int64_t H, int64_t threads, const float* R gates,
                     const float* R hn, const float* R hall, const float* R w,
                     const float* R dout, const uint8_t* R valid, float* R dh, float* R dgi,
                     float* R dgh, float* R direct, float* R dnew, float* R wp) {
  int64_t G = 3 * H;
  mm_pack(G, H, w, H, 1, wp); /* B = W_hh */
  int parallel = threads > 1 && N * G * H >= SEQ_PARALLEL_WORK;
  _Pragma("omp parallel num_threads(threads) if (parallel)")
  for (int64_t t = L - 1; t >= 0; --t) {
    _Pragma("omp for schedule(static)")
    for (int64_t n = 0; n < N; ++n) {
      const float* R g = gates + (t * N + n) * G; const float* R q = hn + (t * N + n) * H;
      const float* R hpn = hall + (t * N + n) * H; const float* R d2 = dout + (t * N + n) * H;
      float* R d1 = dh + n * H; float* R di = dgi + (t * N + n) * G;
      float* R dr = dgh + (t * N + n) * G; float* R dp = direct + n * H;
      if (valid != NULL && !valid[t * N + n]) {
        memset(di, 0, G * sizeof(float));
        memset(dr, 0, G * sizeof(float));
        memset(dp, 0, H * sizeof(float));
        continue;
      }
      _Pragma("omp simd")
      for (int64_t j = 0; j < H; ++j) {
        float rr = g[j], zz = g[H + j], nn = g[2 * H + j];
        float dd = d1[j] + d2[j];
        float dn = dd * (1.0f - zz) * (1.0f - nn * nn);
        float drr = dn * q[j] * rr * (1.0f - rr);
        float dzz = dd * (hpn[j] - nn) * zz * (1.0f - zz);
        di[j] = drr; di[H + j] = dzz; di[2 * H + j] = dn;
        dr[j] = drr; dr[H + j] = dzz; dr[2 * H + j] = dn * rr;
        dp[j] = dd * zz;
      }
    } /* implicit barrier: dgh[t] complete */
    mm_shared(N, G, H, dgh + t * N * G, wp, dnew); /* implicit barrier */
    _Pragma("omp for schedule(static)")
    for (int64_t n = 0; n < N; ++n) {
      if (valid != NULL && !valid[t * N + n]) continue; /* dh passes the frozen step */
      float* R d1 = dh + n * H;
      const float* R dm = dnew + n * H; const float* R dp = direct + n * H;
      _Pragma("omp simd")
      for (int64_t j = 0; j < H; ++j) d1[j] = dm[j] + dp[j];
    } /* implicit barrier: dh complete before the next step reads it */
  }
}
