//===-- FrameBound.cpp - an upper bound of each function's stack frame ----===//
#include "FrameBound.h"
#include "CapriOptions.h"
#include "Lowering.h"

#include "llvm/ADT/BitVector.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/PostOrderIterator.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/Statistic.h"
#include "llvm/IR/CFG.h"
#include "llvm/IR/CallingConv.h"
#include "llvm/IR/DataLayout.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/InlineAsm.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/MathExtras.h"

using namespace llvm;

#define DEBUG_TYPE "capri-frame"

STATISTIC(NumFrames, "Frames bounded");
STATISTIC(NumDynamicAlloca, "Functions with dynamic allocas");
STATISTIC(NumTooLargeForLiveness, "Functions too large for the liveness model");

namespace capri {

AnalysisKey CapriFrameAnalysis::Key;

namespace {

bool hasTargetFeature(const Function &F, StringRef Feature) {
  Attribute A = F.getFnAttribute("target-features");
  return A.isValid() && A.getValueAsString().contains(Feature);
}

// x86-64 System V facts the model rests on.
constexpr uint64_t ReturnAddress = 8;
constexpr uint64_t CalleeSaved = 6 * 8; // rbx, rbp, r12-r15
constexpr uint64_t VarargsSaveArea = 6 * 8 + 8 * 16;
constexpr unsigned ArgGPRs = 6, ArgSSEs = 8;
constexpr unsigned AllocatableGPRs = 13; // 16 less rsp, and two for scratch
constexpr unsigned CallerSavedGPRs = 9;  // rax rcx rdx rsi rdi r8-r11
constexpr unsigned AllocatableXMMs = 15;
constexpr uint64_t RedZone = 128;
/// Hoisted addresses and constants the code generator may keep in registers.
constexpr int64_t MaxHoisted = 4;
/// Padding that keeps rsp 16-byte aligned at calls.
constexpr uint64_t CallAlignment = 8;

/// What a value occupies when it lives in registers or is spilled.
struct RegUse {
  unsigned GPRs = 0;
  uint64_t VecBytes = 0; ///< spill bytes of SSE/AVX/x87 registers
};

RegUse regUse(Type *T, const DataLayout &DL) {
  RegUse R;
  if (T->isVoidTy() || T->isLabelTy() || T->isMetadataTy() || T->isTokenTy())
    return R;
  if (T->isIntegerTy() || T->isPointerTy()) {
    R.GPRs = std::max<uint64_t>(1, divideCeil(DL.getTypeSizeInBits(T).getFixedValue(), 64));
    return R;
  }
  if (T->isFloatingPointTy() || T->isVectorTy()) {
    TypeSize Bits = DL.getTypeSizeInBits(T);
    uint64_t B = Bits.isScalable() ? 128 : Bits.getFixedValue();
    R.VecBytes = alignTo(divideCeil(B, 8), 16);
    return R;
  }
  if (auto *ST = dyn_cast<StructType>(T)) {
    for (Type *E : ST->elements()) {
      RegUse S = regUse(E, DL);
      R.GPRs += S.GPRs;
      R.VecBytes += S.VecBytes;
    }
    return R;
  }
  if (auto *AT = dyn_cast<ArrayType>(T)) {
    RegUse S = regUse(AT->getElementType(), DL);
    R.GPRs = S.GPRs * AT->getNumElements();
    R.VecBytes = S.VecBytes * AT->getNumElements();
    return R;
  }
  R.GPRs = 1;
  return R;
}

/// Stack slots code generation creates for one instruction, each its own
/// (they are not shared, even at -O2): conversions between x87 long double
/// and integers go through memory, and so does a vector element at a
/// variable index on targets without a wide-enough permute.
uint64_t stackTemporaryBytes(const Instruction &I, uint64_t VectorWidth) {
  switch (I.getOpcode()) {
  case Instruction::FPToSI:
  case Instruction::FPToUI:
  case Instruction::SIToFP:
  case Instruction::UIToFP:
  case Instruction::FPTrunc:
  case Instruction::FPExt:
  case Instruction::BitCast: {
    Type *From = I.getOperand(0)->getType()->getScalarType();
    Type *To = I.getType()->getScalarType();
    return From->isX86_FP80Ty() || To->isX86_FP80Ty() ? 16 : 0;
  }
  case Instruction::ExtractElement:
  case Instruction::InsertElement: {
    Value *Index = I.getOperand(I.getOpcode() == Instruction::ExtractElement ? 1 : 2);
    if (isa<Constant>(Index))
      return 0;
    auto *VT = cast<VectorType>(I.getOpcode() == Instruction::ExtractElement
                                    ? I.getOperand(0)->getType()
                                    : I.getType());
    const DataLayout &DL = I.getModule()->getDataLayout();
    TypeSize Bits = DL.getTypeSizeInBits(VT);
    uint64_t Bytes = Bits.isScalable() ? VectorWidth : divideCeil(Bits.getFixedValue(), 8);
    return alignTo(Bytes, 16);
  }
  default:
    return 0;
  }
}

/// Registers a calling convention other than C's makes the function save:
/// preserve_all/preserve_most keep (almost) every register, and the
/// Windows x64 convention saves xmm6-15, rsi and rdi and reserves 32
/// bytes of shadow space for its calls.
uint64_t conventionSavedBytes(const Function &F) {
  switch (F.getCallingConv()) {
  case CallingConv::C:
  case CallingConv::Fast:
  case CallingConv::Cold:
  case CallingConv::Tail:
  case CallingConv::SwiftTail:
  case CallingConv::Swift:
    return 0;
  case CallingConv::Win64:
    return 10 * 16 + 2 * 8 + 32;
  default:
    // preserve_all, preserve_most, interrupt handlers, any other:
    // every general-purpose and vector register.
    return 16 * 8 + 16 * 64;
  }
}

/// AddressSanitizer's frame: every object gets redzones and 32-byte
/// alignment, and the frame starts with a 32-byte redzone. The sizes follow
/// the published layout (an object of n bytes takes at most n + 256 + 32).
uint64_t asanObjectSize(uint64_t Size, uint64_t Align) {
  uint64_t WithRedzone = Size <= 4      ? 16
                         : Size <= 16   ? 32
                         : Size <= 128  ? Size + 32
                         : Size <= 512  ? Size + 64
                         : Size <= 4096 ? Size + 128
                                        : Size + 256;
  return alignTo(std::max<uint64_t>(WithRedzone, 32), std::max<uint64_t>(Align, 32));
}

} // namespace

/// Bytes a call passes on the stack (System V x86-64 classification,
/// rounded up: an upper bound, not the exact ABI).
uint64_t stackArgumentBytes(const CallBase &CB, const DataLayout &DL) {
  if (CB.getCallingConv() == CallingConv::Win64) {
    // Windows x64: 32 bytes of shadow space, four register arguments, and
    // every other argument in an 8-byte stack slot (larger ones by reference).
    uint64_t Rest = CB.arg_size() > 4 ? CB.arg_size() - 4 : 0;
    return alignTo(32 + 8 * Rest, 16);
  }
  unsigned GPRs = 0, SSEs = 0;
  uint64_t Bytes = 0;
  for (unsigned I = 0, E = CB.arg_size(); I < E; ++I) {
    Type *T = CB.getArgOperand(I)->getType();
    if (Type *ByVal = CB.getParamByValType(I)) {
      Bytes += alignTo(DL.getTypeAllocSize(ByVal).getFixedValue(), 8);
      continue;
    }
    if (T->isX86_FP80Ty() || T->isFP128Ty()) {
      Bytes += 16;
      continue;
    }
    RegUse R = regUse(T, DL);
    for (unsigned G = 0; G < R.GPRs; ++G)
      if (++GPRs > ArgGPRs)
        Bytes += 8;
    for (uint64_t V = 0; V < R.VecBytes; V += 16)
      if (++SSEs > ArgSSEs)
        Bytes += 16;
  }
  if (CB.hasStructRetAttr())
    ++GPRs;
  return alignTo(Bytes, 16);
}

bool isRealCall(const CallBase &CB) {
  return !isa<IntrinsicInst>(CB) && !CB.isInlineAsm();
}

namespace {

/// Register pressure over SSA liveness. A value is "in a register" from its
/// definition to its last use; what the allocator cannot keep in registers
/// it spills, and no vector register survives a call in this ABI.
class PressureModel {
public:
  /// FastRegAlloc: the -O0 allocator also spills around instructions with
  /// fixed-register constraints and around control flow that instruction
  /// selection splits into blocks IR does not show.
  /// AccessesCall: a sanitizer that runs after the plugin will turn memory
  /// accesses into calls (TSan, MSan) or checks with calls on their slow
  /// path (ASan), so values live across an access may be spilled too.
  /// Shadowed: MSan gives every value a shadow value, doubling pressure.
  PressureModel(Function &F, const DataLayout &DL, bool FastRegAlloc, bool AccessesCall,
                bool Shadowed)
      : F(F), DL(DL), FastRegAlloc(FastRegAlloc), AccessesCall(AccessesCall),
        Shadowed(Shadowed) {}

  struct Result {
    unsigned MaxGPRs = 0;            ///< most GPR values live at once
    uint64_t MaxVecBytes = 0;        ///< most vector bytes live at once
    unsigned MaxGPRsAcrossCall = 0;  ///< GPR values live across one call
    uint64_t MaxVecAcrossCall = 0;   ///< vector bytes live across one call
    uint64_t BytesLiveAcrossBlocks = 0; ///< all values live across a block
                                        ///< edge or a call, each its own slot
  };

  Result run() {
    if (!number())
      return everything();
    solve();
    return scan();
  }

private:
  Function &F;
  const DataLayout &DL;
  bool FastRegAlloc;
  bool AccessesCall;
  bool Shadowed;
  DenseMap<const Value *, unsigned> Index;
  std::vector<RegUse> Uses;
  DenseMap<const BasicBlock *, unsigned> BlockIndex;
  std::vector<BitVector> LiveIn, LiveOut;

  static bool isTracked(const Value *V) {
    if (isa<AllocaInst>(V)) // a frame address: rematerialised from rsp
      return false;
    if (auto *I = dyn_cast<Instruction>(V))
      return !I->getType()->isVoidTy() && !I->use_empty();
    return isa<Argument>(V) && !V->use_empty();
  }

  int indexOf(const Value *V) const {
    auto It = Index.find(V);
    return It == Index.end() ? -1 : static_cast<int>(It->second);
  }

  /// Liveness sets cost blocks x values bits; beyond this, give up precision.
  static constexpr uint64_t MaxLivenessBits = uint64_t(1) << 28;

  bool number() {
    auto Add = [&](const Value *V) {
      if (!isTracked(V))
        return;
      Index[V] = Uses.size();
      RegUse U = regUse(V->getType(), DL);
      if (Shadowed) {
        U.GPRs *= 2;
        U.VecBytes *= 2;
      }
      Uses.push_back(U);
    };
    for (Argument &A : F.args())
      Add(&A);
    unsigned B = 0;
    for (BasicBlock &BB : F) {
      BlockIndex[&BB] = B++;
      for (Instruction &I : BB)
        Add(&I);
    }
    if (uint64_t(B) * Uses.size() > MaxLivenessBits) {
      ++NumTooLargeForLiveness;
      return false;
    }
    LiveIn.assign(B, BitVector(Uses.size()));
    LiveOut.assign(B, BitVector(Uses.size()));
    return true;
  }

  /// Backward dataflow to a fixed point; phi operands are live out of the
  /// incoming block only.
  void solve() {
    std::vector<BasicBlock *> Order;
    SmallPtrSet<BasicBlock *, 32> Reached;
    for (BasicBlock *BB : post_order(&F)) {
      Order.push_back(BB);
      Reached.insert(BB);
    }
    // Unreachable blocks still get code; include them.
    for (BasicBlock &BB : F)
      if (!Reached.count(&BB))
        Order.push_back(&BB);
    bool Changed = true;
    while (Changed) {
      Changed = false;
      for (BasicBlock *BB : Order) {
        unsigned B = BlockIndex[BB];
        BitVector Out(Uses.size());
        for (BasicBlock *S : successors(BB)) {
          BitVector In = LiveIn[BlockIndex[S]];
          for (PHINode &P : S->phis()) {
            int PI = indexOf(&P);
            if (PI >= 0)
              In.reset(PI);
            int VI = indexOf(P.getIncomingValueForBlock(BB));
            if (VI >= 0)
              In.set(VI);
          }
          Out |= In;
        }
        BitVector Live = Out;
        for (Instruction &I : reverse(*BB)) {
          int D = indexOf(&I);
          if (D >= 0)
            Live.reset(D);
          if (isa<PHINode>(I))
            continue;
          for (const Use &Op : I.operands()) {
            int U = indexOf(Op.get());
            if (U >= 0)
              Live.set(U);
          }
        }
        for (PHINode &P : BB->phis()) {
          int PI = indexOf(&P);
          if (PI >= 0)
            Live.set(PI);
        }
        if (Out != LiveOut[B] || Live != LiveIn[B]) {
          LiveOut[B] = std::move(Out);
          LiveIn[B] = std::move(Live);
          Changed = true;
        }
      }
    }
  }

  /// Instructions around which the fast allocator spills what is live:
  /// calls of any kind, fixed-register operations (division, variable
  /// shifts), and instructions that selection lowers to several blocks.
  static bool clobbersUnderFastRegAlloc(const Instruction &I) {
    switch (I.getOpcode()) {
    case Instruction::Call:
    case Instruction::Invoke:
    case Instruction::CallBr:
    case Instruction::Switch:
    case Instruction::Select:
    case Instruction::SDiv:
    case Instruction::UDiv:
    case Instruction::SRem:
    case Instruction::URem:
    case Instruction::VAArg:
    case Instruction::AtomicCmpXchg:
    case Instruction::AtomicRMW:
      return true;
    case Instruction::Shl:
    case Instruction::LShr:
    case Instruction::AShr:
      return !isa<Constant>(I.getOperand(1));
    default:
      return false;
    }
  }

  /// A live set with running totals, so a scan costs O(instructions).
  struct LiveSet {
    BitVector Bits;
    unsigned GPRs = 0;
    uint64_t Vec = 0;
  };

  void assign(LiveSet &L, const BitVector &Bits) const {
    L.Bits = Bits;
    L.GPRs = 0;
    L.Vec = 0;
    for (unsigned V : Bits.set_bits()) {
      L.GPRs += Uses[V].GPRs;
      L.Vec += Uses[V].VecBytes;
    }
  }
  void add(LiveSet &L, int V) const {
    if (V < 0 || L.Bits.test(V))
      return;
    L.Bits.set(V);
    L.GPRs += Uses[V].GPRs;
    L.Vec += Uses[V].VecBytes;
  }
  void remove(LiveSet &L, int V) const {
    if (V < 0 || !L.Bits.test(V))
      return;
    L.Bits.reset(V);
    L.GPRs -= Uses[V].GPRs;
    L.Vec -= Uses[V].VecBytes;
  }

  Result scan() {
    Result R;
    BitVector Spilled(Uses.size());
    LiveSet Live;
    for (BasicBlock &BB : F) {
      unsigned B = BlockIndex[&BB];
      assign(Live, LiveOut[B]);
      Spilled |= LiveOut[B];
      Spilled |= LiveIn[B];
      for (Instruction &I : reverse(BB)) {
        int D = indexOf(&I);
        auto *CB = dyn_cast<CallBase>(&I);
        bool SanitizerCall = AccessesCall && I.mayReadOrWriteMemory();
        if (SanitizerCall) {
          // The sanitizer's call comes before the access: the access's own
          // operands live across it too.
          for (const Use &Op : I.operands())
            add(Live, indexOf(Op.get()));
        }
        if ((CB && isRealCall(*CB)) || (FastRegAlloc && clobbersUnderFastRegAlloc(I)) ||
            SanitizerCall) {
          // Live across the call: live after it, less its own result.
          bool Own = D >= 0 && Live.Bits.test(D);
          unsigned G = Live.GPRs - (Own ? Uses[D].GPRs : 0);
          uint64_t V = Live.Vec - (Own ? Uses[D].VecBytes : 0);
          R.MaxGPRsAcrossCall = std::max(R.MaxGPRsAcrossCall, G);
          R.MaxVecAcrossCall = std::max(R.MaxVecAcrossCall, V);
          if (Own) {
            BitVector Across = Live.Bits;
            Across.reset(D);
            Spilled |= Across;
          } else {
            Spilled |= Live.Bits;
          }
        }
        remove(Live, D);
        if (!isa<PHINode>(I))
          for (const Use &Op : I.operands())
            add(Live, indexOf(Op.get()));
        R.MaxGPRs = std::max(R.MaxGPRs, Live.GPRs);
        R.MaxVecBytes = std::max(R.MaxVecBytes, Live.Vec);
      }
    }
    for (unsigned S : Spilled.set_bits())
      R.BytesLiveAcrossBlocks += Uses[S].GPRs * 8 + Uses[S].VecBytes;
    return R;
  }

  /// For functions too large to solve (blocks x values bits above the cap):
  /// every value in a register at once and in a slot of its own. Sound, and
  /// only as loose as such functions deserve.
  Result everything() const {
    Result R;
    for (const RegUse &U : Uses) {
      R.MaxGPRs += U.GPRs;
      R.MaxVecBytes += U.VecBytes;
      R.BytesLiveAcrossBlocks += U.GPRs * 8 + U.VecBytes;
    }
    R.MaxGPRsAcrossCall = R.MaxGPRs;
    R.MaxVecAcrossCall = R.MaxVecBytes;
    return R;
  }
};

} // namespace

FrameBound CapriFrameAnalysis::run(Function &F, FunctionAnalysisManager &) {
  FrameBound FB;
  const DataLayout &DL = F.getParent()->getDataLayout();
  bool Asan = F.hasFnAttribute(Attribute::SanitizeAddress);
  bool OptNone = F.hasOptNone();
  if (Asan || F.hasFnAttribute(Attribute::SanitizeMemory) ||
      F.hasFnAttribute(Attribute::SanitizeHWAddress) ||
      F.hasFnAttribute(Attribute::SanitizeThread))
    FB.Flags |= frameflags::Sanitized;
  if (OptNone)
    FB.Flags |= frameflags::OptNone;
  if (F.isVarArg()) {
    FB.Flags |= frameflags::Variadic;
    FB.VarargsArea = VarargsSaveArea;
  }
  if (F.hasFnAttribute(Attribute::NoRedZone))
    FB.Flags |= frameflags::NoRedZone;

  uint64_t MaxAlign = 16;
  uint64_t AsanObjects = 0;
  SmallPtrSet<const Value *, 8> HoistedValues;
  // Leaf: may use the red zone (readers add 128 bytes to the backend's
  // figure). MayCall: may call, so needs callee-saved registers and call
  // alignment. Both at once: code generation decides, and the bound must
  // hold for either reading of the backend's figure.
  MachineCalls Calls = machineCalls(F);
  bool Leaf = Calls != MachineCalls::Definite;
  bool MayCall = Calls != MachineCalls::None;
  uint64_t VectorWidth = hasTargetFeature(F, "+avx512f") ? 64
                         : hasTargetFeature(F, "+avx")   ? 32
                                                         : 16;
  for (Instruction &I : instructions(F)) {
    if (auto *AI = dyn_cast<AllocaInst>(&I)) {
      uint64_t Align = AI->getAlign().value();
      MaxAlign = std::max(MaxAlign, Align);
      if (!AI->isStaticAlloca()) {
        FB.Flags |= frameflags::DynamicAlloca;
        continue;
      }
      std::optional<TypeSize> Size = AI->getAllocationSize(DL);
      uint64_t Bytes = Size ? Size->getKnownMinValue() : 0;
      FB.Allocas = alignTo(FB.Allocas, Align) + Bytes;
      if (Asan) {
        AsanObjects += asanObjectSize(Bytes, Align);
      }
      continue;
    }
    for (const Use &Op : I.operands()) {
      const Value *V = Op.get();
      if (auto *CB = dyn_cast<CallBase>(&I); CB && CB->isCallee(&Op))
        continue;
      if (isa<GlobalValue>(V) || isa<AllocaInst>(V))
        HoistedValues.insert(V);
      else if (auto *C = dyn_cast<ConstantInt>(V); C && !C->getValue().isSignedIntN(32))
        HoistedValues.insert(V);
    }
    if (uint64_t Temp = stackTemporaryBytes(I, VectorWidth)) {
      FB.Allocas += Temp;
      // A temporary holds a whole vector, aligned as its type: wider than
      // 16 bytes, it realigns the frame.
      if (isa<ExtractElementInst>(I) || isa<InsertElementInst>(I))
        MaxAlign = std::max<uint64_t>(MaxAlign, std::min<uint64_t>(PowerOf2Ceil(Temp), 64));
    }
    if (auto *CB = dyn_cast<CallBase>(&I)) {
      // (Not the address computations of checkpoint slow paths.)
      if (CB->isInlineAsm() && !CB->getMetadata("capri.slow_path"))
        FB.Flags |= frameflags::InlineAsm;
      if (CB->hasFnAttr(Attribute::ReturnsTwice))
        FB.Flags |= frameflags::ReturnsTwice;
      if (isRealCall(*CB)) {
        FB.OutgoingArgs = std::max(FB.OutgoingArgs, stackArgumentBytes(*CB, DL));
      }
    }
    // Vectors wider than 16 bytes are spilled to slots of their alignment,
    // which realigns the frame, when the target has registers that wide
    // (otherwise they are split into 16-byte registers).
    if (I.getType()->isVectorTy()) {
      TypeSize Bits = DL.getTypeSizeInBits(I.getType());
      if (!Bits.isScalable() && Bits.getFixedValue() > 128)
        MaxAlign = std::max<uint64_t>(
            MaxAlign, std::min<uint64_t>(PowerOf2Ceil(Bits.getFixedValue() / 8), VectorWidth));
    }
  }
  if (Asan)
    FB.Allocas = std::max(FB.Allocas, AsanObjects + 32);
  // The stack protector, which runs in code generation, adds its guard slot.
  if (stackProtectorCall(F) != MachineCalls::None)
    FB.Allocas = alignTo(FB.Allocas, 16) + 16;
  FB.Allocas = alignTo(FB.Allocas, 16);
  FB.MaxAlign = static_cast<unsigned>(std::min<uint64_t>(MaxAlign, 1u << 15));
  if (FB.Flags & frameflags::DynamicAlloca)
    ++NumDynamicAlloca;

  bool Msan = F.hasFnAttribute(Attribute::SanitizeMemory);
  bool AccessesCall = Asan || Msan || F.hasFnAttribute(Attribute::SanitizeThread) ||
                      F.hasFnAttribute(Attribute::SanitizeHWAddress);
  PressureModel::Result P = PressureModel(F, DL, OptNone, AccessesCall, Msan).run();
  if (OptNone) {
    // The fast register allocator gives every value that lives across a
    // block edge or a call a stack slot of its own, and never shares slots.
    FB.Spills = P.BytesLiveAcrossBlocks;
  } else {
    // The code generator keeps hoisted addresses and wide constants in
    // registers too, across calls as well, which IR liveness does not show.
    int64_t Hoisted = std::min<int64_t>(HoistedValues.size(), MaxHoisted);
    uint64_t GPRExcess = std::max<int64_t>(
        {0, int64_t(P.MaxGPRs) + Hoisted - int64_t(AllocatableGPRs),
         int64_t(P.MaxGPRsAcrossCall) + Hoisted - int64_t(CalleeSaved / 8)});
    uint64_t VecExcess = std::max<int64_t>(
        {0, int64_t(P.MaxVecBytes) - int64_t(AllocatableXMMs * 16),
         int64_t(P.MaxVecAcrossCall)});
    FB.Spills = 8 * GPRExcess + VecExcess;
  }
  FB.Spills = alignTo(FB.Spills, 16);
  if (Asan)
    FB.Spills *= 2; // instrumentation adds shadow computations around accesses

  // Callee-saved registers: optimised code that calls keeps values (and
  // hoisted constants) across calls in them, often all six; otherwise they
  // are pushed only when the caller-saved registers run out, with room for
  // the code generator's own temporaries.
  uint64_t SavedRegs =
      MayCall && !OptNone
          ? CalleeSaved / 8
          : std::min<uint64_t>(CalleeSaved / 8,
                               std::max<int64_t>(0, int64_t(P.MaxGPRs) + MaxHoisted -
                                                        int64_t(CallerSavedGPRs)));
  Attribute FP = F.getFnAttribute("frame-pointer");
  bool HasFP = OptNone || (FP.isValid() && FP.getValueAsString() != "none") ||
               MaxAlign > 16 || (FB.Flags & frameflags::DynamicAlloca);
  uint64_t MinSize = 8 * SavedRegs + (HasFP ? 8 : 0);

  // A frame realigned to MaxAlign loses up to MaxAlign bytes to the aligning
  // `and` of rsp, and the backend rounds the frame itself up to a multiple
  // of MaxAlign: up to MaxAlign more.
  FB.Realign = MaxAlign > 16 ? 2 * MaxAlign : 0;
  FB.Fixed = ReturnAddress + MinSize + (MayCall ? CallAlignment : 0) + FrameMargin +
             conventionSavedBytes(F);
  FB.Total = FB.Allocas + FB.Spills + FB.Fixed + FB.OutgoingArgs + FB.VarargsArea + FB.Realign;

  // A leaf function may keep up to 128 bytes below rsp (the red zone) and
  // lower its stack adjustment by as much, so the backend's figure for it
  // can be up to 128 bytes short of what it uses. Cover that: the frame of
  // a leaf is at least its pushes plus the whole red zone.
  if (Leaf && !(FB.Flags & (frameflags::NoRedZone | frameflags::DynamicAlloca))) {
    uint64_t WithRedZone = ReturnAddress + MinSize + RedZone + FB.Realign;
    // When code generation decides whether the function calls (a tail
    // call, an inline-expanded copy, the stack protector, a sanitizer that
    // may prove every access safe), readers take the backend's figure as a
    // leaf's, 128 bytes above what a caller's frame needs: cover both.
    // A realigned frame never uses the red zone, but readers add it to a
    // leaf's figure all the same.
    if (MayCall || MaxAlign > 16)
      WithRedZone = std::max(WithRedZone, FB.Total + RedZone);
    if (FB.Total < WithRedZone) {
      FB.Fixed += WithRedZone - FB.Total;
      FB.Total = WithRedZone;
    }
  }
  ++NumFrames;
  return FB;
}

void FrameBound::print(raw_ostream &OS) const {
  OS << "bound " << Total << " = allocas " << Allocas << " + spills " << Spills
     << " + fixed " << Fixed << " + args " << OutgoingArgs << " + varargs " << VarargsArea
     << " + realign " << Realign;
  if (Flags & frameflags::DynamicAlloca) OS << " dynamic-alloca";
  if (Flags & frameflags::InlineAsm) OS << " inline-asm";
  if (Flags & frameflags::ReturnsTwice) OS << " returns-twice";
  if (Flags & frameflags::Variadic) OS << " variadic";
  if (Flags & frameflags::Sanitized) OS << " sanitized";
  if (Flags & frameflags::OptNone) OS << " optnone";
}

PreservedAnalyses CapriFramePrinter::run(Function &F, FunctionAnalysisManager &FAM) {
  if (F.isDeclaration())
    return PreservedAnalyses::all();
  OS << "frame " << F.getName() << ": ";
  FAM.getResult<CapriFrameAnalysis>(F).print(OS);
  OS << "\n";
  return PreservedAnalyses::all();
}

} // namespace capri
