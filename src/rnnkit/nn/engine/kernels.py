"""Fused pointwise gate math for the fused engine: small C kernels, with a PyTorch fallback.

One call per time step does all of a cell's elementwise work (bias add, activations, state
update, and what the backward pass needs), where eager PyTorch would launch a dozen ops. The
kernels are plain C (no PyTorch headers, so they build in about a second), compiled with the
system C compiler on first use into ``$RNNKIT_CACHE`` (default ``~/.cache/rnnkit``)/kernels and
loaded with ctypes. Without a compiler, or with ``RNNKIT_KERNELS=0``, the same math runs as
PyTorch ops (:func:`available` says which).

Conventions, per time step with N rows (the batch) and H units; ``pre = gi + gh + b``, gates in
torch.nn order, every buffer contiguous:

LSTM forward::

    i, f, g, o = σ(pre_i), σ(pre_f), tanh(pre_g), σ(pre_o)       gates (N, 4H) saved
    c = f ⊙ c_prev + i ⊙ g;  tc = tanh(c);  h = o ⊙ tc            c, tc, h (N, H)

LSTM backward (``dh`` = gradient reaching h_t, ``dc`` = gradient reaching c_t from step t+1)::

    dc' = dc + dh ⊙ o ⊙ (1 - tc²)
    dpre = [dc' g i(1-i),  dc' c_prev f(1-f),  dc' i (1-g²),  dh tc o(1-o)]   (N, 4H)
    dc_prev = dc' ⊙ f

GRU forward (``gi``, ``gh`` without their biases ``bi`` = b_ih, ``b`` = b_hh)::

    r = σ(gi_r + bi_r + gh_r + b_r);  z = σ(gi_z + bi_z + gh_z + b_z);  hn = gh_n + b_n
    n = tanh(gi_n + bi_n + r ⊙ hn);   h = n + z ⊙ (h_prev - n)              r, z, n, hn saved

GRU backward::

    dn' = dh (1-z)(1-n²);  dgi = [dr', dz', dn'],  dgh = [dr', dz', dn' ⊙ r]
    with dr' = dn' hn r(1-r),  dz' = dh (h_prev - n) z(1-z);   dh_prev (direct part) = dh ⊙ z

Elman RNN: ``h = act(pre)``; backward ``dpre = dh ⊙ act'(h)``.

Each step kernel comes in float32, float64 and a bfloat16-operand variant (``*_bf16`` here) for
autocast: float32 state and gate math that reads ``gh`` in bfloat16 and also writes bfloat16
copies of ``h`` (forward) or of the gate gradients (backward), the operands of the next matrix
products. Whole-sequence kernels: the layer norm of every gate block of ``W_ih x``
(:func:`block_layer_norm_forward` / ``_backward``) and column sums of a product
(:func:`column_dot`, a layer-norm gain's gradient).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from torch import Tensor

from rnnkit.nn.engine import workspace

__all__ = [
    "available",
    "column_dot",
    "bf16_available",
    "block_layer_norm_backward",
    "block_layer_norm_forward",
    "gru_backward",
    "gru_forward",
    "lstm_ln_backward",
    "lstm_ln_forward",
    "lstm_backward",
    "lstm_forward",
    "rnn_backward",
    "rnn_forward",
]

log = logging.getLogger(__name__)

_SOURCE = r"""
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
"""

_FLAGS = [
    "-O3",
    "-march=native",
    "-fopenmp",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-fPIC",
    "-shared",
]
_SUFFIX = {torch.float32: "f32", torch.float64: "f64"}
_library: ctypes.CDLL | None | bool = False  # False: not tried yet; None: unavailable


def _cache_dir() -> Path:
    root = os.environ.get("RNNKIT_CACHE") or Path.home() / ".cache" / "rnnkit"
    return Path(root) / "kernels"


def _build() -> ctypes.CDLL | None:
    """Compile (once per source, flags and machine) and load the kernels, or return None."""
    if os.environ.get("RNNKIT_KERNELS", "1") == "0":
        return None
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        log.info("rnnkit fused kernels: no C compiler found, using PyTorch ops")
        return None
    key = hashlib.sha256(
        "\0".join([_SOURCE, *_FLAGS, compiler, sys.platform, _cpu_id()]).encode()
    ).hexdigest()[:16]
    path = _cache_dir() / f"rnnkit_kernels_{key}.so"
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
                source = Path(tmp) / "kernels.c"
                source.write_text(_SOURCE)
                target = Path(tmp) / path.name
                subprocess.run(
                    [compiler, *_FLAGS, str(source), "-o", str(target), "-lm"],
                    check=True,
                    capture_output=True,
                    timeout=120,
                )
                os.replace(target, path)  # atomic: concurrent builders race harmlessly
        library = ctypes.CDLL(str(path))
    except (OSError, subprocess.SubprocessError) as error:
        log.warning("rnnkit fused kernels failed to build (%s); using PyTorch ops", error)
        return None
    i64, ptr, i32 = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int
    step_kernels = {  # the variants of each share their arguments (see the C source)
        "lstm_fwd": [i64, i64] + [ptr] * 9,
        "lstm_bwd": [i64, i64] + [ptr] * 8,
        "gru_fwd": [i64, i64] + [ptr] * 9,
        "gru_bwd": [i64, i64] + [ptr] * 10,
        "rnn_fwd": [i64, ptr, ptr, ptr, i64, i32, ptr, ptr],
        "rnn_bwd": [i64, ptr, ptr, ptr, i32, ptr, ptr],
    }
    for name, argtypes in step_kernels.items():
        for suffix in (*_SUFFIX.values(), "bf"):
            getattr(library, f"{name}_{suffix}").argtypes = argtypes
    for suffix in _SUFFIX.values():
        real = ctypes.c_float if suffix == "f32" else ctypes.c_double
        getattr(library, f"lstm_ln_fwd_{suffix}").argtypes = [i64, i64, real] + [ptr] * 15
        getattr(library, f"lstm_ln_bwd_{suffix}").argtypes = [i64, i64] + [ptr] * 15
        getattr(library, f"block_ln_fwd_{suffix}").argtypes = [i64, i64, i64, real] + [ptr] * 5
        getattr(library, f"block_ln_bwd_{suffix}").argtypes = [i64, i64, i64, i64] + [ptr] * 6
        getattr(library, f"col_dot_{suffix}").argtypes = [i64, i64, i64] + [ptr] * 3
    return library


def _cpu_id() -> str:
    """What ``-march=native`` depends on: the CPU model and flags."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    lines = [line for line in text.splitlines() if line.startswith(("model name", "flags"))]
    return "\n".join(lines[:2])


def _lib() -> ctypes.CDLL | None:
    global _library
    if _library is False:
        _library = _build()
    return _library


def available(dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> bool:
    """Whether the C kernels serve this dtype and device (else PyTorch ops run the same math)."""
    return torch.device(device).type == "cpu" and dtype in _SUFFIX and _lib() is not None


_KERNELS: dict[tuple[str, torch.dtype, bool], object] = {}  # -> C function or None


def _fn(name: str, t: Tensor, bf16: bool = False):
    """The C kernel ``name`` for ``t``'s dtype (its bf16-operand variant with ``bf16``, for a
    float32 ``t``), or None where none serves.

    Called once per time step: the lookup is cached, as it costs more than a small kernel.
    """
    if not t.is_cpu:
        return None
    key = (name, t.dtype, bf16)
    kernel = _KERNELS.get(key, False)
    if kernel is False:
        suffix = _SUFFIX.get(t.dtype)
        if bf16:
            suffix = "bf" if t.dtype == torch.float32 else None
        lib = _lib() if suffix is not None else None
        kernel = None if lib is None else getattr(lib, f"{name}_{suffix}")
        _KERNELS[key] = kernel
    return kernel


def _ptrs(*tensors: Tensor | None) -> list[int | None]:
    """Data pointers for a C call; None (NULL) for an output not asked for."""
    return [None if t is None else t.data_ptr() for t in tensors]


def bf16_available(state: Tensor) -> bool:
    """Whether the bfloat16-operand kernels serve a float32 state on this device."""
    return state.dtype == torch.float32 and available(torch.float32, state.device)


# Every function below writes into the given output buffers (contiguous, same dtype). The
# optional bfloat16 outputs (hb, *_bf16) ask for the bf16-operand variant of the kernel: gh is
# then bfloat16 and those buffers get bf16 copies of h or of the gate gradients.


def lstm_forward(gi: Tensor, gh: Tensor, b: Tensor, c_prev: Tensor, gates, c, tc, h, hb=None):
    """gi, gh (N, 4H), b (4H,), c_prev (N, H) -> gates (N, 4H), c, tc, h [, hb] (N, H)."""
    kernel = _fn("lstm_fwd", gi, bf16=hb is not None)
    if kernel is not None:
        n, hidden = c_prev.shape
        kernel(n, hidden, *_ptrs(gi, gh, b, c_prev, gates, c, tc, h, hb))
        return
    pre = gi + gh + b  # (N, 4H)
    i, f, g, o = pre.chunk(4, dim=-1)
    acts = torch.cat([torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)], -1)
    gates.copy_(acts)
    i, f, g, o = acts.chunk(4, dim=-1)
    torch.addcmul(f * c_prev, i, g, out=c)
    torch.tanh(c, out=tc)
    torch.mul(o, tc, out=h)
    _copy_to(hb, h)


def lstm_backward(gates, c_prev, tc, dh1, dh2, dc, dpre, dpre_bf16=None) -> None:
    """Gradient ``dh1 + dh2`` reaching h_t and ``dc`` (in/out: dc_t -> dc_{t-1}) -> dpre (N, 4H)."""
    kernel = _fn("lstm_bwd", gates, bf16=dpre_bf16 is not None)
    if kernel is not None:
        n, hidden = c_prev.shape
        kernel(n, hidden, *_ptrs(gates, c_prev, tc, dh1, dh2, dc, dpre, dpre_bf16))
        return
    i, f, g, o = gates.chunk(4, dim=-1)
    dh = dh1 + dh2
    dcc = dc + dh * o * (1 - tc * tc)
    grads = [dcc * g * i * (1 - i), dcc * c_prev * f * (1 - f), dcc * i * (1 - g * g)]
    grads.append(dh * tc * o * (1 - o))
    dpre.copy_(torch.cat(grads, -1))
    dc.copy_(dcc * f)
    _copy_to(dpre_bf16, dpre)


def gru_forward(gi, bi, gh, b, h_prev: Tensor, gates, hn, h, hb=None) -> None:
    """gi, gh (N, 3H), biases bi, b (3H,), h_prev (N, H) -> gates r, z, n (N, 3H), hn, h [, hb].

    ``bi`` is b_ih (added to gi), ``b`` is b_hh (added to gh, inside the reset gate for n).
    """
    kernel = _fn("gru_fwd", gi, bf16=hb is not None)
    if kernel is not None:
        n, hidden = h_prev.shape
        kernel(n, hidden, *_ptrs(gi, bi, gh, b, h_prev, gates, hn, h, hb))
        return
    i_r, i_z, i_n = (gi + bi).chunk(3, dim=-1)
    h_r, h_z, h_n = (gh + b).chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    gates.copy_(torch.cat([r, z, n], -1))
    hn.copy_(h_n)
    h.copy_(n + z * (h_prev - n))
    _copy_to(hb, h)


def gru_backward(
    gates, hn, h_prev, dh1, dh2, dgi, dgh, dh_prev, dgi_bf16=None, dgh_bf16=None
) -> None:
    """Gradient ``dh1 + dh2`` reaching h_t -> dgi, dgh (N, 3H), direct part of dh_prev (N, H)."""
    kernel = _fn("gru_bwd", gates, bf16=dgh_bf16 is not None)
    if kernel is not None:
        n, hidden = h_prev.shape
        buffers = (gates, hn, h_prev, dh1, dh2, dgi, dgh, dh_prev, dgi_bf16, dgh_bf16)
        kernel(n, hidden, *_ptrs(*buffers))
        return
    r, z, n = gates.chunk(3, dim=-1)
    dh = dh1 + dh2
    dn = dh * (1 - z) * (1 - n * n)
    dr = dn * hn * r * (1 - r)
    dz = dh * (h_prev - n) * z * (1 - z)
    dgi.copy_(torch.cat([dr, dz, dn], -1))
    dgh.copy_(torch.cat([dr, dz, dn * r], -1))
    dh_prev.copy_(dh * z)
    _copy_to(dgi_bf16, dgi)
    _copy_to(dgh_bf16, dgh)


def rnn_forward(gi: Tensor, gh: Tensor, b: Tensor, relu: bool, h: Tensor, hb=None) -> None:
    """gi, gh (N, H), b (H,) -> h = act(gi + gh + b) (N, H) [, hb]."""
    kernel = _fn("rnn_fwd", gi, bf16=hb is not None)
    if kernel is not None:
        kernel(h.numel(), *_ptrs(gi, gh, b), b.numel(), int(relu), *_ptrs(h, hb))
        return
    pre = gi + gh + b
    torch.relu(pre, out=h) if relu else torch.tanh(pre, out=h)
    _copy_to(hb, h)


def rnn_backward(h: Tensor, dh1: Tensor, dh2: Tensor, relu: bool, dpre: Tensor, dpre_bf16=None):
    """Gradient ``dh1 + dh2`` reaching h_t = act(pre) -> dpre (N, H) [, dpre_bf16]."""
    kernel = _fn("rnn_bwd", h, bf16=dpre_bf16 is not None)
    if kernel is not None:
        kernel(h.numel(), *_ptrs(h, dh1, dh2), int(relu), *_ptrs(dpre, dpre_bf16))
        return
    dh = dh1 + dh2
    dpre.copy_(dh * (h > 0) if relu else dh * (1 - h * h))
    _copy_to(dpre_bf16, dpre)


def _copy_to(out: Tensor | None, x: Tensor) -> None:
    """The PyTorch fallbacks' bf16 copies, where asked for."""
    if out is not None:
        out.copy_(x)


def lstm_ln_forward(gi, gh, lg, b, cw, cb, c_prev, eps, xh, rh, gates, c, xc, rc, tc, h) -> bool:
    """The layer-normalised LSTM step in C; False (nothing done) where no kernel serves.

    gh is the raw W_hh h (N, 4H): normalised per gate block into xh (rh = 1/σ, (N, 4)), scaled
    by lg and added to gi + b; the new cell state c is normalised into xc (rc = 1/σ, (N,)) and
    tc = tanh(xc ⊙ cw + cb), h = o ⊙ tc.
    """
    kernel = _fn("lstm_ln_fwd", gi)
    if kernel is None:
        return False
    n, hidden = c_prev.shape
    buffers = (gi, gh, lg, b, cw, cb, c_prev, xh, rh, gates, c, xc, rc, tc, h)
    kernel(n, hidden, eps, *_ptrs(*buffers))
    return True


def lstm_ln_backward(gates, c_prev, xc, rc, tc, cw, xh, rh, lg, dh1, dh2, dc, dpre, draw, dcn):
    """Backward of :func:`lstm_ln_forward`: dc in/out; dpre (gradient of the pre-activation),
    draw (of the raw W_hh h) and dcn (of the normalised cell state, for its gain and shift)."""
    kernel = _fn("lstm_ln_bwd", gates)
    n, hidden = c_prev.shape
    buffers = (gates, c_prev, xc, rc, tc, cw, xh, rh, lg, dh1, dh2, dc, dpre, draw, dcn)
    kernel(n, hidden, *_ptrs(*buffers))


def block_layer_norm_forward(x: Tensor, gain: Tensor, blocks: int, eps: float):
    """Layer norm of each of the ``blocks`` gate blocks of x (..., G*H), times ``gain`` (G*H,).

    Returns y, x̂ (like x) and 1/σ (..., G). For a contiguous x whose dtype :func:`available`
    serves (the caller checks).
    """
    kernel = _fn("block_ln_fwd", x)
    width = x.shape[-1]
    rows = x.numel() // width
    y, xhat = _pooled_like(x), _pooled_like(x)
    rstd = x.new_empty(*x.shape[:-1], blocks)
    kernel(rows, blocks, width // blocks, eps, *_ptrs(x, gain, y, xhat, rstd))
    return y, xhat, rstd


def block_layer_norm_backward(dy: Tensor, xhat: Tensor, rstd: Tensor, gain: Tensor, blocks: int):
    """Backward of :func:`block_layer_norm_forward` (dy contiguous): dx (like dy), dgain (G*H,)."""
    kernel = _fn("block_ln_bwd", xhat)
    width = xhat.shape[-1]
    threads = torch.get_num_threads()
    dx = _pooled_like(xhat)
    partial = xhat.new_zeros(threads, width)  # each thread's share of dgain
    buffers = (dy, xhat, rstd, gain, dx, partial)
    kernel(xhat.numel() // width, blocks, width // blocks, threads, *_ptrs(*buffers))
    return dx, partial.sum(0)


def _pooled_like(x: Tensor) -> Tensor:
    """An uninitialised tensor like contiguous ``x``, from the workspace pool when it is big."""
    return workspace.empty(tuple(x.shape), x.dtype, x.device)


def column_dot(a: Tensor, b: Tensor) -> Tensor:
    """``(a * b)`` summed over every dim but the last, without making the product: (..., K) -> (K,).

    Falls back to PyTorch ops where no kernel serves (or an input is not contiguous).
    """
    kernel = _fn("col_dot", a)
    if kernel is None or b.dtype != a.dtype or not (a.is_contiguous() and b.is_contiguous()):
        return (a * b).reshape(-1, a.shape[-1]).sum(0)
    width = a.shape[-1]
    threads = torch.get_num_threads()
    partial = a.new_zeros(threads, width)
    kernel(a.numel() // width, width, threads, *_ptrs(a, b, partial))
    return partial.sum(0)
