//===-- CheckpointPlacement.h - where linked stacks are checked -----------===//
//
// Capriccio's checkpoint placement (docs/stack-growth-design.md, section
// "Placement"). A *region* is what a call may use below the caller's stack
// pointer. The analysis chooses the call sites where a later pass will
// compare the stack pointer with the thread's limit, so that between two
// checks no path uses more than MaxPath bytes:
//
//   1. calls whose region the module cannot bound: calls into other files
//      (cross-file), into code without metadata (external, region from
//      LibcStackMarks.def or -capri-external-reserve) and unresolved
//      indirect calls (indirect);
//   2. one back edge of every call-graph cycle (cycle), found by a
//      depth-first walk inside each strongly connected component;
//   3. bottom-up over the remaining DAG, the edges n->s with
//      frame(n) + longest(s) > MaxPath, the largest longest(s) first
//      (maxpath);
//   4. a check before every variable-size alloca (dynamic-alloca).
//
// Calls that cannot be outlined (returns_twice, musttail, inline asm, calls
// code generation adds) are never checkpoints: their region stays in the
// caller's, and so in its callers' (a function is never checked on its own
// entry: its prologue has run before any check could). The analysis only
// places; CheckpointInstrumentation inserts the checks.
//
//===----------------------------------------------------------------------===//
#ifndef CAPRI_CHECKPOINT_PLACEMENT_H
#define CAPRI_CHECKPOINT_PLACEMENT_H

#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/IR/PassManager.h"
#include "llvm/Support/raw_ostream.h"
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llvm {
class CallBase;
class Function;
class Instruction;
class Module;
} // namespace llvm

namespace capri {

enum class CheckpointReason : uint8_t {
  Cycle,         ///< a back edge of a call-graph cycle
  MaxPath,       ///< frame(caller) + region(callee) exceeds MaxPath
  CrossFile,     ///< the callee is defined in another module
  External,      ///< code without metadata (libc, other libraries)
  Indirect,      ///< an indirect call whose targets' regions are unknown
  DynamicAlloca, ///< before a variable-size alloca
  Forced,        ///< annotate("capri.checkpoint_all") on the caller
};

/// Why a call cannot be a checkpoint (and so why a function's region may
/// exceed MaxPath).
enum class UncutReason : uint8_t {
  None,
  ReturnsTwice, ///< setjmp and friends: the call cannot be outlined
  MustTail,     ///< musttail: the call must stay in tail position
  InlineAsm,    ///< a call inside inline asm (or asm goto)
  Codegen,      ///< a call code generation adds (no call in the IR)
  Unsupported,  ///< a call a thunk cannot reproduce (CallOutlining.h)
};

/// Metadata on a call that must be a checkpoint (reason Forced when nothing
/// else makes it one): a loop relies on its check as its yield point
/// (LoopYieldPoints.cpp), or it calls code moved out of a frame that waits
/// (YieldFrameShrink.cpp), which should run on a chunk of its own.
constexpr const char *ForcedCheckpointMD = "capri.checkpoint";

llvm::StringRef reasonName(CheckpointReason R);
llvm::StringRef uncutReasonName(UncutReason R);

struct Checkpoint {
  /// The call (a CallBase) or, for DynamicAlloca, the alloca.
  const llvm::Instruction *Site = nullptr;
  const llvm::Function *Caller = nullptr;
  /// The functions of this module the call may reach (empty for calls
  /// outside the module, unresolved indirect calls and allocas).
  std::vector<const llvm::Function *> Callees;
  /// The callee as printed: a name, "<indirect ...>" or "<alloca>".
  std::string CalleeLabel;
  CheckpointReason Reason = CheckpointReason::MaxPath;
  /// Bytes the call may use below the caller's stack pointer, return
  /// address included. DynamicAlloca: the rest of the function's region,
  /// to which the check adds the alloca's run-time size.
  uint64_t Region = 0;

  const llvm::CallBase *call() const;
};

struct FunctionPlacement {
  uint64_t Frame = 0;
  /// entry_region(f): longest(f), the most the function uses from its
  /// entry to its first checkpoints (its frame, plus the deepest unchecked
  /// call). capri_spawn sizes a thread's first chunk with this value.
  uint64_t EntryRegion = 0;
  bool NoCheckpoints = false; ///< annotate("capri.no_checkpoints") (or naked)
  bool CheckpointAll = false; ///< annotate("capri.checkpoint_all")
  /// Set when a call that cannot be a checkpoint takes the function's
  /// region over MaxPath: the checks on the calls into it cover it.
  UncutReason UncheckedCall = UncutReason::None;
  /// Bytes of the argument block the instrumentation adds to the frame
  /// (one block, as large as the largest of the function's checkpoints';
  /// included in Frame).
  uint64_t BlockBytes = 0;
  /// A cycle through this function that has no checkpoint at all (every
  /// call on it is in a capri.no_checkpoints function or cannot be
  /// outlined, and not all are musttail): its regions hold for one round
  /// of the cycle only.
  bool UncheckedCycle = false;
  /// Indices into CheckpointPlacementInfo::Checkpoints, in program order.
  std::vector<unsigned> Checkpoints;
};

class CheckpointPlacementInfo {
public:
  std::vector<Checkpoint> Checkpoints;
  /// Every defined function, in module order.
  llvm::MapVector<const llvm::Function *, FunctionPlacement> Functions;

  /// The options the placement used.
  uint64_t MaxPath = 0, Slack = 0, MinChunk = 0, Reserve = 0;
  /// At a full-LTO link the module is the whole program: no call is
  /// cross-file and indirect calls reach only the module's functions.
  bool WholeProgram = false;

  const FunctionPlacement *get(const llvm::Function *F) const {
    auto It = Functions.find(F);
    return It == Functions.end() ? nullptr : &It->second;
  }
  void print(llvm::raw_ostream &OS, const llvm::Module &M) const;
  bool invalidate(llvm::Module &M, const llvm::PreservedAnalyses &PA,
                  llvm::ModuleAnalysisManager::Invalidator &Inv);
};

/// The measured stack high-water mark of a library function
/// (passes/LibcStackMarks.def), if the table has one.
std::optional<uint64_t> libcStackMark(llvm::StringRef Name);

class CapriCheckpointAnalysis : public llvm::AnalysisInfoMixin<CapriCheckpointAnalysis> {
  friend llvm::AnalysisInfoMixin<CapriCheckpointAnalysis>;
  static llvm::AnalysisKey Key;

public:
  using Result = CheckpointPlacementInfo;
  Result run(llvm::Module &M, llvm::ModuleAnalysisManager &MAM);
};

struct CapriCheckpointPrinter : llvm::PassInfoMixin<CapriCheckpointPrinter> {
  llvm::raw_ostream &OS;
  explicit CapriCheckpointPrinter(llvm::raw_ostream &OS) : OS(OS) {}
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &MAM);
  static bool isRequired() { return true; }
};

} // namespace capri

#endif
