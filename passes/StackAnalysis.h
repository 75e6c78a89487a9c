//===-- StackAnalysis.h - recursion and worst paths within a module -------===//
//
// Strongly connected components of the module's call graph (indirect calls
// resolved by type identity among the module's address-taken functions),
// the recursion cycles among them, the depth bounds the user declared with
// CAPRI_RECURSION_BOUND(n), and for every function the worst stack a call
// to it can use, with the path that reaches it. Calls into code without
// metadata and unresolved indirect calls are charged -capri-external-reserve.
//
// The whole-program view (across files and shared objects) is capri-stack's;
// under full LTO this module is the whole program.
//
//===----------------------------------------------------------------------===//
#ifndef CAPRI_STACK_ANALYSIS_H
#define CAPRI_STACK_ANALYSIS_H

#include "CallGraph.h"
#include "FrameBound.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/IR/PassManager.h"
#include <vector>

namespace capri {

struct RecursionCycle {
  std::vector<const llvm::Function *> Functions; ///< the SCC, in a cycle order
  bool Bounded = false; ///< every loop passes a function with a declared depth
  uint64_t DepthSum = 0; ///< sum of the declared depths
};

struct StackInfo {
  uint64_t Frame = 0;
  uint64_t Worst = 0;       ///< frame + worst callee (finite part)
  bool Unbounded = false;   ///< reaches unbounded recursion or a dynamic alloca
  int Cycle = -1;           ///< index into Cycles when in a recursion cycle
  const llvm::Function *Next = nullptr; ///< next function on the worst path
  std::string NextExternal;  ///< or: the external call charged the reserve
  unsigned RecursionBound = 0;
};

class StackAnalysisInfo {
public:
  llvm::DenseMap<const llvm::Function *, StackInfo> Info;
  std::vector<RecursionCycle> Cycles;

  const StackInfo *get(const llvm::Function *F) const {
    auto It = Info.find(F);
    return It == Info.end() ? nullptr : &It->second;
  }
  /// The worst path from F, as names.
  std::vector<std::string> worstPath(const llvm::Function *F) const;
  void print(llvm::raw_ostream &OS, const llvm::Module &M) const;
  bool invalidate(llvm::Module &, const llvm::PreservedAnalyses &PA,
                  llvm::ModuleAnalysisManager::Invalidator &);
};

/// Calls Fn(F, Text) for every `__attribute__((annotate(Text)))` on a
/// function of M (clang's llvm.global.annotations).
void forEachFunctionAnnotation(
    const llvm::Module &M,
    llvm::function_ref<void(const llvm::Function *, llvm::StringRef)> Fn);

/// Parses CAPRI_RECURSION_BOUND annotations: function -> depth. Malformed
/// ones (not a positive 32-bit number) are left out and, when Malformed is
/// given, listed there with their text.
llvm::DenseMap<const llvm::Function *, unsigned>
recursionBounds(const llvm::Module &M,
                std::vector<std::pair<const llvm::Function *, std::string>> *Malformed = nullptr);

class CapriStackAnalysis : public llvm::AnalysisInfoMixin<CapriStackAnalysis> {
  friend llvm::AnalysisInfoMixin<CapriStackAnalysis>;
  static llvm::AnalysisKey Key;

public:
  using Result = StackAnalysisInfo;
  Result run(llvm::Module &M, llvm::ModuleAnalysisManager &MAM);
};

struct CapriStackPrinter : llvm::PassInfoMixin<CapriStackPrinter> {
  llvm::raw_ostream &OS;
  explicit CapriStackPrinter(llvm::raw_ostream &OS) : OS(OS) {}
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &MAM);
  static bool isRequired() { return true; }
};

} // namespace capri

#endif
