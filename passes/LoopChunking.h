//===-- LoopChunking.h - one preemption check per chunk of a counted loop -===//
//
// A loop yield point on every iteration of a tight loop costs two
// instructions per iteration: 10-15% on a vectorised body of a dozen. A
// call-free innermost loop whose trip count scalar evolution can compute
// is strip-mined instead, without a second loop: its exit compare
//
//   X == Bound   or  X < Bound  (X = {Start,+,Step}, Bound loop-invariant;
//                                any predicate if X never wraps round)
//
// becomes a compare with the end of the current chunk, a header phi
//
//   X == ChunkEnd               (same cost per iteration)
//
// (the last chunk ends at Bound, or at X's value on the last iteration)
// and the rare chunk exit decides whether the loop is done (fewer than K
// back edges were left) or another chunk of K iterations starts, after the
// preemption check. Per iteration the loop runs the instructions it ran
// before; per chunk, a handful more (docs/plugin.md, "Loop yield points").
//
// K is the chunk work (-capri-loop-chunk-work, instructions) over the
// loop's size, so a check comes every few tens of microseconds whatever the
// body. A loop whose constant maximum trip count is at most K needs no
// check at all.
//
//===----------------------------------------------------------------------===//
#ifndef CAPRI_LOOP_CHUNKING_H
#define CAPRI_LOOP_CHUNKING_H

#include "llvm/ADT/APInt.h"
#include "llvm/ADT/StringRef.h"
#include <cstdint>

namespace llvm {
class BasicBlock;
class BranchInst;
class DominatorTree;
class LoopInfo;
class ICmpInst;
class Loop;
class SCEV;
class SCEVAddRecExpr;
class ScalarEvolution;
class Value;
} // namespace llvm

namespace capri {

/// Instructions in the loop's blocks that code generation keeps (a rough
/// size: phis, debug records and lifetime markers are not counted).
unsigned loopSize(const llvm::Loop &L);

/// The most instructions one run of L executes (its constant maximum trip
/// count times its own size plus each inner loop's run), or 0 when a loop
/// of the nest has no constant maximum trip count.
uint64_t boundedWork(const llvm::Loop &L, llvm::ScalarEvolution &SE);

/// Iterations per chunk for a loop of Size instructions (at least 2).
uint64_t chunkIterations(unsigned Size, unsigned ChunkWork);

/// A counted loop the check can be amortised over, found before the IR
/// changes.
struct LoopChunkPlan {
  llvm::Loop *L = nullptr;
  /// The block the loop is entered from (its preheader once expanded).
  llvm::BasicBlock *Preheader = nullptr, *Header = nullptr, *Latch = nullptr, *Exit = nullptr;
  llvm::BranchInst *LatchBr = nullptr;
  llvm::ICmpInst *Compare = nullptr;
  llvm::Value *X = nullptr; ///< the compared affine value
  const llvm::SCEVAddRecExpr *AddRec = nullptr;
  /// The loop-invariant operand when the loop exits iff X == Bound; else
  /// null, and the last chunk ends at Final, X on the last iteration.
  llvm::Value *Bound = nullptr;
  const llvm::SCEV *Final = nullptr;
  const llvm::SCEV *BackedgeCount = nullptr;
  const llvm::SCEV *Start = nullptr; ///< X on the first iteration
  llvm::APInt Step;
  uint64_t K = 0; ///< iterations per chunk
  /// Expanded in the preheader (expandChunkValues).
  llvm::Value *BackedgeValue = nullptr, *StartValue = nullptr, *FinalValue = nullptr;
};

/// The plan for L, or why L cannot be chunked (Why is set, the plan's L
/// is null). L must be call-free.
LoopChunkPlan planLoopChunks(llvm::Loop &L, llvm::ScalarEvolution &SE, unsigned ChunkWork,
                             llvm::StringRef &Why);

/// Gives the loop a preheader of its own if it has none, and expands the
/// back-edge count and X's start there. Done for every plan before any
/// loop is rewritten: the expansions read scalar evolution, which the
/// rewrites make stale. False (nothing changed but maybe the preheader)
/// when the loop cannot get a preheader.
bool expandChunkValues(LoopChunkPlan &P, llvm::ScalarEvolution &SE, llvm::DominatorTree &DT,
                       llvm::LoopInfo &LI);

/// Rewrites the loop; returns the block, on the path from the chunk exit
/// back to the header, that ends in `br Header`: the check goes there.
llvm::BasicBlock *stripMine(LoopChunkPlan &P);

} // namespace capri

#endif
