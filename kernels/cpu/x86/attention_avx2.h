// The AVX2+FMA attention kernel (x86-64 only); only the dispatch table calls it, after checking
// the CPU has avx2 and fma.
#pragma once

#include "kernels/cpu/ref/attention.h"

namespace tlm::cpu::x86 {

// ref::Attention's contract (kernels/cpu/ref/attention.h) computed flash-attention style: tiles
// of query vectors (several rows of all query heads of one KV head, so a key tile is loaded once
// for the whole group) by tiles of keys, with an online softmax (running max and sum) and a
// polynomial exp; results within float rounding of the reference, not bit-identical.
void AttentionAvx2(const ref::AttentionArgs& args, const ref::AttentionWork& work, const ref::AttentionPartial* partial,
                   float* scratch);

}  // namespace tlm::cpu::x86
