//===-- LiveState.h - what a thread blocked at a yield site holds ---------===//
//
// At each yield site of a function (YieldSites.h): the static stack objects
// live across the call, from LLVM's StackLifetime (the analysis SafeStack
// uses, with LivenessType::May: live on some path counts), the SSA values
// live across it (defined before, used after: they sit in callee-saved
// registers or spill slots), and the stack objects the frame holds but
// which are dead there, largest first (docs/yield-design.md).
//
// The frame is the objects' size after stack colouring (objects whose
// lifetimes never overlap share space, as the backend's colouring does)
// plus the frame estimate's fixed parts. Objects without lifetime markers
// (every object at -O0) count as live everywhere: that is what the frame
// does.
//
//===----------------------------------------------------------------------===//
#ifndef CAPRI_LIVE_STATE_H
#define CAPRI_LIVE_STATE_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/IR/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <string>
#include <vector>

namespace llvm {
class AllocaInst;
class CallBase;
class Function;
} // namespace llvm

namespace capri {

struct FrameBound;

struct StackObject {
  const llvm::AllocaInst *Alloca = nullptr;
  std::string Name; ///< from debug info, else the IR name, else "<unnamed>"
  uint64_t Size = 0;
  unsigned Index = 0; ///< position among the function's objects
};

struct SiteLiveState {
  uint64_t Frame = 0;        ///< the coloured frame, bytes
  uint64_t LiveObjects = 0;  ///< bytes of stack objects live across the call
  uint64_t LiveValues = 0;   ///< bytes of SSA values live across the call
  uint64_t Dead = 0;         ///< bytes of the stack objects dead at the call
  std::vector<StackObject> DeadObjects; ///< largest first
  std::vector<StackObject> LiveObjectList; ///< largest first
  bool NoLifetimes = false;  ///< no lifetime markers: everything counted live
  bool Unreachable = false;  ///< the call is unreachable: everything counted live
  bool ValuesSkipped = false; ///< the function is too large for SSA liveness: values not counted
  uint64_t live() const { return LiveObjects + LiveValues; }
  /// "buf=4096;path=1024": the first Max dead objects, for the record.
  std::string deadList(unsigned Max) const;
};

class FunctionLiveState {
public:
  llvm::DenseMap<const llvm::CallBase *, SiteLiveState> Sites;
  uint64_t Objects = 0;         ///< static stack objects, summed
  uint64_t ColouredObjects = 0; ///< after colouring
  const SiteLiveState *get(const llvm::CallBase *CB) const {
    auto It = Sites.find(CB);
    return It == Sites.end() ? nullptr : &It->second;
  }
};

/// Live state at each call of Calls (calls of F).
FunctionLiveState computeLiveState(const llvm::Function &F,
                                   llvm::ArrayRef<const llvm::CallBase *> Calls,
                                   const FrameBound &FB);

/// A printable size: "312 B", "4 KiB", "8.2 KiB".
std::string formatBytes(uint64_t Bytes);

} // namespace capri

#endif
