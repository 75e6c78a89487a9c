//===-- CheckpointInstrumentation.cpp - the checks at checkpoints ---------===//
#include "CheckpointInstrumentation.h"
#include "LimitWord.h"
#include "CallOutlining.h"
#include "CapriOptions.h"
#include "CheckpointPlacement.h"
#include "FrameBound.h"
#include "MetadataEmitter.h"
#include "Pipeline.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/Statistic.h"
#include "llvm/Analysis/OptimizationRemarkEmitter.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InlineAsm.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/MDBuilder.h"
#include "llvm/IR/Module.h"

#include <map>
#include <tuple>

using namespace llvm;

#define DEBUG_TYPE "capri-instrument"

STATISTIC(NumSmallChecks, "Checkpoints that compare the stack pointer with the limit");
STATISTIC(NumTableChecks, "Checkpoints that subtract a bound from the table");
STATISTIC(NumThunks, "Thunks made for slow paths");
STATISTIC(NumAllocasLeft, "Dynamic allocas left without a check");

namespace capri {

namespace {

constexpr const char *SlowPathMD = "capri.slow_path";

/// A checkpoint the pass will instrument, copied out of the placement
/// before the IR changes.
struct Site {
  CallBase *Call;
  CheckpointReason Reason;
  uint64_t Region;    ///< stack arguments included
  uint64_t StackArgs; ///< of the region
};

/// Thunks are shared between calls that would get the same one: the same
/// callee (or an indirect call of the same type), block layout (the actual
/// argument types: a varargs call's differ from call to call), attributes,
/// calling convention, constants repeated, and a caller with the same code
/// generation attributes. (Types and attribute lists are uniqued: their
/// addresses stand for them.)
using ThunkKey = std::tuple<const Value *, FunctionType *, StructType *, const void *, unsigned,
                            std::vector<const Value *>, const void *, bool>;

class Instrumenter {
public:
  Instrumenter(Module &M, FunctionAnalysisManager &FAM)
      : M(M), FAM(FAM), Ctx(M.getContext()), DL(M.getDataLayout()),
        I64(Type::getInt64Ty(Ctx)), Ptr(PointerType::get(Ctx, 0)) {}

  bool run(const CheckpointPlacementInfo &CP) {
    // Copy the sites out: instrumentation splits blocks.
    MapVector<Function *, std::vector<Site>> ByFunction;
    std::vector<std::pair<Function *, const Checkpoint *>> Allocas;
    for (const Checkpoint &C : CP.Checkpoints) {
      Function *F = const_cast<Function *>(C.Caller);
      if (C.Reason == CheckpointReason::DynamicAlloca) {
        Allocas.push_back({F, &C});
        continue;
      }
      auto *CB = const_cast<CallBase *>(C.call());
      if (!CB || !unoutlinableReason(*CB).empty())
        continue; // placement never chooses these
      // Arguments passed on the stack are pushed below the stack pointer
      // the check reads when the caller has no reserved call area (it has
      // dynamic allocas): the region covers them.
      uint64_t StackArgs = stackArgumentBytes(*CB, DL);
      ByFunction[F].push_back({CB, C.Reason, C.Region + StackArgs, StackArgs});
    }
    // Variable-size allocas, per function.
    MapVector<Function *, std::vector<std::pair<AllocaInst *, uint64_t>>> VLAs;
    for (auto &[F, C] : Allocas) {
      auto *AI = const_cast<AllocaInst *>(cast<AllocaInst>(C->Site));
      if (AI->getAllocatedType()->isSized() && !AI->getAllocatedType()->isScalableTy())
        VLAs[F].push_back({AI, C->Region});
      else
        ++NumAllocasLeft;
    }
    // Each function's entry region, for the record (capri_spawn sizes a
    // thread's first chunk with its entry function's).
    for (const auto &[F, P] : CP.Functions)
      const_cast<Function *>(F)->setMetadata(
          "capri.entry_region",
          MDNode::get(Ctx, {ConstantAsMetadata::get(ConstantInt::get(I64, P.EntryRegion))}));
    if (ByFunction.empty() && VLAs.empty())
      return !CP.Functions.empty();

    // Entries of the bounds table, in checkpoint order.
    std::vector<Constant *> Bounds;
    for (auto &[F, Sites] : ByFunction)
      for (Site &S : Sites)
        if (!small(S))
          Bounds.push_back(ConstantInt::get(I64, std::min(S.Region, MaxRegionBound)));
    if (!Bounds.empty()) {
      auto *Ty = ArrayType::get(I64, Bounds.size());
      // Writable: the runtime rewrites it at start-up. Internal to the
      // module: no GOT load, and no interposition between objects.
      Table = new GlobalVariable(M, Ty, /*isConstant=*/false, GlobalValue::InternalLinkage,
                                 ConstantArray::get(Ty, Bounds), BoundsTableName);
      Table->setAlignment(Align(8));
      Table->setSection(".data.capri.bounds");
    }
    MorestackFn = M.getOrInsertFunction(
        "__morestack", FunctionType::get(Type::getVoidTy(Ctx), {Ptr, Ptr, I64}, false));
    if (auto *Decl = dyn_cast<Function>(MorestackFn.getCallee())) {
      // Weak: a program built with the plugin links without libcapri and
      // runs as before (no runtime sets the limit word, every check passes).
      if (Decl->isDeclaration())
        Decl->setLinkage(GlobalValue::ExternalWeakLinkage);
      Decl->addFnAttr(Attribute::Cold);
      // A plain call (through the PLT in position-independent code): a GOT
      // load would be one more value the fast path keeps live (hoisted out
      // of loops into a callee-saved register). capri-cc links with -z now,
      // so the PLT slot is bound at load time, never by the lazy resolver
      // on a stack that has just run out.
    }
    for (auto &[F, Sites] : ByFunction)
      instrumentFunction(*F, Sites);
    for (auto &[F, List] : VLAs)
      instrumentAllocas(*F, List);
    return true;
  }

private:
  Module &M;
  FunctionAnalysisManager &FAM;
  LLVMContext &Ctx;
  const DataLayout &DL;
  IntegerType *I64;
  PointerType *Ptr;
  GlobalVariable *Table = nullptr;
  unsigned NextTableIndex = 0;
  FunctionCallee MorestackFn;
  std::map<ThunkKey, std::pair<Function *, uint64_t>> Thunks;

  static bool small(const Site &S) { return S.Region <= Slack; }

  /// The function now reads the limit word and may grow (or take heap
  /// memory): whatever it promised about memory no longer holds.
  static void forgetMemoryPromises(Function &F) {
    F.removeFnAttr(Attribute::Memory);
    F.removeFnAttr(Attribute::NoSync);
    F.removeFnAttr(Attribute::NoFree);
  }

  /// The address of V, computed by an asm `leaq` with side effects (so
  /// not hoisted) from a memory operand (a frame slot or a RIP-relative
  /// symbol: no register holds V's address before it). Marked
  /// !capri.slow_path: the analyses know it touches no stack.
  Value *pinHere(IRBuilder<> &B, Value *V) {
    auto *Ty = FunctionType::get(Ptr, {Ptr}, false);
    InlineAsm *Lea = InlineAsm::get(Ty, "leaq $1, $0", "=r,*m,~{dirflag},~{fpsr},~{flags}",
                                    /*hasSideEffects=*/true);
    CallInst *C = B.CreateCall(Ty, Lea, {V});
    C->addParamAttr(0, Attribute::get(Ctx, Attribute::ElementType, Type::getInt8Ty(Ctx)));
    C->addFnAttr(Attribute::NoUnwind);
    C->setMetadata(SlowPathMD, MDNode::get(Ctx, {}));
    return C;
  }

  void instrumentFunction(Function &F, std::vector<Site> &Sites) {
    // One block for all the function's slow paths, as large as the largest.
    uint64_t Size = 1;
    Align A(16);
    for (Site &S : Sites) {
      ArgumentBlock B = argumentBlock(*S.Call);
      Size = std::max<uint64_t>(Size, DL.getTypeAllocSize(B.Type).getFixedValue());
      A = std::max(A, DL.getPrefTypeAlign(B.Type));
    }
    IRBuilder<> Entry(&*F.getEntryBlock().getFirstInsertionPt());
    AllocaInst *Block =
        Entry.CreateAlloca(ArrayType::get(Type::getInt8Ty(Ctx), Size), nullptr, "capri.block");
    Block->setAlignment(A);

    forgetMemoryPromises(F);

    for (Site &S : Sites)
      instrumentCall(F, S, Block, Size);
  }

  /// Variable-size allocas: before each, a check that its size and the
  /// rest of the function's region fit above the limit; when not, the
  /// memory comes from __capri_vla_take (runtime/src/vla.c) and goes back
  /// at stackrestore and at every exit of the function.
  void instrumentAllocas(Function &F, std::vector<std::pair<AllocaInst *, uint64_t>> &List) {
    IRBuilder<> Entry(&*F.getEntryBlock().getFirstInsertionPt());
    AllocaInst *Head = Entry.CreateAlloca(Ptr, nullptr, "capri.vla.head");
    Entry.CreateStore(ConstantPointerNull::get(Ptr), Head);
    FunctionCallee Take = M.getOrInsertFunction(
        "__capri_vla_take", FunctionType::get(Ptr, {I64, I64, Ptr, I64}, false));
    FunctionCallee Release = M.getOrInsertFunction(
        "__capri_vla_release", FunctionType::get(Type::getVoidTy(Ctx), {Ptr, I64}, false));
    // Weak, as __morestack: without libcapri the limit word stays 0 and the
    // slow path never runs, so the program links and runs as before.
    for (FunctionCallee C : {Take, Release})
      if (auto *Decl = dyn_cast<Function>(C.getCallee()); Decl && Decl->isDeclaration())
        Decl->setLinkage(GlobalValue::ExternalWeakLinkage);
    forgetMemoryPromises(F);

    // Give the blocks back: at each stackrestore those taken since its
    // stacksave, at each exit all of them (when there are any).
    auto ReleaseBefore = [&](Instruction *I, Value *Sp) {
      BasicBlock *BB = I->getParent();
      BasicBlock *Rest = BB->splitBasicBlock(I, BB->getName() + ".capri.vla.kept");
      BasicBlock *Free = BasicBlock::Create(Ctx, BB->getName() + ".capri.vla.free", &F, Rest);
      BB->getTerminator()->eraseFromParent();
      IRBuilder<> B(BB);
      B.SetCurrentDebugLocation(I->getDebugLoc());
      Value *Any = B.CreateIsNotNull(B.CreateLoad(Ptr, Head), "capri.vla.any");
      B.CreateCondBr(Any, Free, Rest, MDBuilder(Ctx).createBranchWeights(1, 2000));
      B.SetInsertPoint(Free);
      B.CreateCall(Release, {Head, Sp})->setDoesNotThrow();
      B.CreateBr(Rest);
    };
    SmallVector<Instruction *, 8> Exits, Restores;
    for (BasicBlock &BB : F) {
      Instruction *T = BB.getTerminator();
      if (isa<ReturnInst>(T) || isa<ResumeInst>(T))
        Exits.push_back(T);
      for (Instruction &I : BB)
        if (auto *II = dyn_cast<IntrinsicInst>(&I); II && II->getIntrinsicID() == Intrinsic::stackrestore)
          Restores.push_back(II);
    }
    for (Instruction *R : Restores)
      ReleaseBefore(R, IRBuilder<>(R).CreatePtrToInt(R->getOperand(0), I64));
    for (Instruction *X : Exits)
      ReleaseBefore(X, ConstantInt::get(I64, ~uint64_t(0)));

    for (auto &[AI, Rest] : List) {
      // Size in bytes, rounded up to the alignment.
      BasicBlock *BB = AI->getParent();
      IRBuilder<> B(AI);
      uint64_t Elem = DL.getTypeAllocSize(AI->getAllocatedType()).getFixedValue();
      uint64_t Alignment = AI->getAlign().value();
      Value *Count = B.CreateZExtOrTrunc(AI->getArraySize(), I64);
      Value *Size = B.CreateMul(Count, B.getInt64(Elem), "capri.vla.size");
      Value *SP = readStackPointer(B);
      Value *Limit = loadLimit(B, /*Volatile=*/true);
      // A size beyond 2^40 always takes the slow path (sp - need would wrap).
      Value *Sane = B.CreateICmpULT(Size, B.getInt64(MaxRegionBound));
      Value *Need = B.CreateAdd(Size, B.getInt64(std::min(Rest, MaxRegionBound) + Alignment + 16));
      Value *Fits = B.CreateAnd(Sane, B.CreateICmpUGE(B.CreateSub(SP, Need), Limit), "capri.fits");

      BasicBlock *Fast = BB->splitBasicBlock(AI, BB->getName() + ".capri.vla");
      BasicBlock *Join = Fast->splitBasicBlock(AI->getNextNode(), BB->getName() + ".capri.vla.join");
      BasicBlock *Slow = BasicBlock::Create(Ctx, BB->getName() + ".capri.vla.heap", &F, Join);
      BB->getTerminator()->eraseFromParent();
      IRBuilder<> HB(BB);
      HB.CreateCondBr(Fits, Fast, Slow, MDBuilder(Ctx).createBranchWeights(2000, 1));
      IRBuilder<> SB(Slow);
      SB.SetCurrentDebugLocation(AI->getDebugLoc());
      CallInst *Heap = SB.CreateCall(Take, {Size, SB.getInt64(Alignment), Head, SP}, "capri.vla.heap");
      Heap->setDoesNotThrow();
      // Move the stack pointer down a little, so that a later stacksave is
      // below this block's recorded stack pointer (see vla.c).
      AllocaInst *Step = SB.CreateAlloca(Type::getInt8Ty(Ctx), SB.getInt64(16), "capri.vla.step");
      Step->setAlignment(Align(16));
      SB.CreateBr(Join);
      PHINode *P = PHINode::Create(Ptr, 2, AI->getName() + ".capri", &*Join->begin());
      AI->replaceAllUsesWith(P);
      P->addIncoming(AI, Fast);
      P->addIncoming(Heap, Slow);
    }
  }

  Value *readStackPointer(IRBuilder<> &B) {
    Function *ReadReg = Intrinsic::getDeclaration(&M, Intrinsic::read_register, {I64});
    Metadata *RSP = MDString::get(Ctx, "rsp");
    return B.CreateCall(ReadReg, {MetadataAsValue::get(Ctx, MDNode::get(Ctx, {RSP}))},
                        "capri.sp");
  }

  /// The thread's limit word, %fs:0x70.
  Value *loadLimit(IRBuilder<> &B, bool Volatile) {
    auto *LimitAddr = ConstantExpr::getIntToPtr(ConstantInt::get(I64, LimitWordOffset),
                                                PointerType::get(Ctx, FSAddressSpace));
    return B.CreateAlignedLoad(I64, LimitAddr, Align(8), Volatile, "capri.limit");
  }

  /// sp >= limit (small regions) or sp >= limit + bound, before the call.
  Value *emitCheck(IRBuilder<> &B, const Site &S, Value *&Need) {
    Value *SP = readStackPointer(B);
    // Volatile for the small form: a preemption request may store into the
    // word at any time, and the load still folds into the compare. The
    // table form's load folds into the add only when it is not volatile; a
    // stale value there can only be a missed request (the word is
    // otherwise constant while the function runs on its chunk).
    Value *Limit = loadLimit(B, /*Volatile=*/small(S));
    if (small(S)) {
      ++NumSmallChecks;
      Need = nullptr;
      return B.CreateICmpUGE(SP, Limit, "capri.fits");
    }
    ++NumTableChecks;
    unsigned Index = NextTableIndex++;
    Value *Slot = B.CreateConstInBoundsGEP2_64(Table->getValueType(), Table, 0, Index);
    Need = B.CreateAlignedLoad(I64, Slot, Align(8), "capri.bound");
    // sp >= limit + bound: four instructions (the bound's load, an add
    // from %fs, a compare, a branch). No wrap: bounds are at most 2^40,
    // limits below 2^47, and a preemption request is 2^62.
    Value *High = B.CreateAdd(Limit, Need, "capri.high");
    return B.CreateICmpUGE(SP, High, "capri.fits");
  }

  void instrumentCall(Function &F, Site &S, AllocaInst *Block, uint64_t BlockSize) {
    CallBase *CB = S.Call;
    const bool IsInvoke = isa<InvokeInst>(CB);
    ArgumentBlock AB = argumentBlock(*CB);
    auto [Thunk, ThunkFrame] = thunkFor(F, *CB, AB);
    // The thunk's own frame is on the new chunk too.
    uint64_t Extra = ThunkFrame;

    // Head: the check. Direct: the original call. Grow: the slow path.
    BasicBlock *Head = CB->getParent();
    BasicBlock *Direct = Head->splitBasicBlock(CB, Head->getName() + ".capri.direct");
    BasicBlock *Join = nullptr;
    if (!IsInvoke)
      Join = Direct->splitBasicBlock(CB->getNextNode(), Head->getName() + ".capri.join");
    BasicBlock *Grow = BasicBlock::Create(Ctx, Head->getName() + ".capri.grow", &F,
                                          Join ? Join : Direct->getNextNode());

    Head->getTerminator()->eraseFromParent();
    IRBuilder<> B(Head);
    B.SetCurrentDebugLocation(CB->getDebugLoc());
    Value *Need = nullptr;
    Value *Fits = emitCheck(B, S, Need);
    MDBuilder MDB(Ctx);
    B.CreateCondBr(Fits, Direct, Grow, MDB.createBranchWeights(2000, 1));

    // Grow: fill the block, run the thunk on a new chunk, read the result.
    B.SetInsertPoint(Grow);
    B.SetCurrentDebugLocation(CB->getDebugLoc());
    B.CreateLifetimeStart(Block, B.getInt64(BlockSize));
    auto Field = [&](int I) { return B.CreateStructGEP(AB.Type, Block, I); };
    if (AB.HoldsCallee)
      B.CreateStore(CB->getCalledOperand(), Field(0));
    for (unsigned I = 0, E = CB->arg_size(); I != E; ++I)
      if (AB.ArgField[I] >= 0)
        B.CreateStore(CB->getArgOperand(I), Field(AB.ArgField[I]));
    // (The bound is loaded again here: kept in a register from the check,
    // it would stop the fast path's load from folding into its add.)
    if (Need)
      Need = B.CreateAlignedLoad(I64, cast<LoadInst>(Need)->getPointerOperand(), Align(8),
                                 "capri.bound.again");
    Value *NeedAll = Need ? B.CreateAdd(Need, B.getInt64(Extra))
                          : static_cast<Value *>(B.getInt64(S.Region + Extra));
    // The thunk's and the block's addresses are materialised here, in the
    // cold block: left alone, the code generator hoists them out of loops
    // into callee-saved registers, which every call of the function then
    // saves and restores. An empty asm (no instructions) pins them here.
    Value *Args[] = {pinHere(B, Thunk), pinHere(B, Block), NeedAll};
    BasicBlock *After = Grow;
    if (IsInvoke) {
      auto *II = cast<InvokeInst>(CB);
      After = BasicBlock::Create(Ctx, Head->getName() + ".capri.grown", &F, Grow->getNextNode());
      InvokeInst *Call = B.CreateInvoke(MorestackFn, After, II->getUnwindDest(), Args);
      Call->setDebugLoc(CB->getDebugLoc());
      // The landing pad gains a predecessor with the same incoming values.
      for (PHINode &P : II->getUnwindDest()->phis())
        P.addIncoming(P.getIncomingValueForBlock(Direct), Grow);
      B.SetInsertPoint(After);
      B.SetCurrentDebugLocation(CB->getDebugLoc());
    } else {
      CallInst *Call = B.CreateCall(MorestackFn, Args);
      if (CB->doesNotThrow())
        Call->setDoesNotThrow();
    }
    Value *Result = nullptr;
    if (AB.ResultField >= 0)
      Result = B.CreateLoad(CB->getType(), Field(AB.ResultField), "capri.result");
    B.CreateLifetimeEnd(Block, B.getInt64(BlockSize));

    if (IsInvoke) {
      // The invoke's normal edge and the slow path meet in Join, which
      // takes the invoke's place in its normal destination's phis.
      auto *II = cast<InvokeInst>(CB);
      BasicBlock *Normal = II->getNormalDest();
      Join = BasicBlock::Create(Ctx, Head->getName() + ".capri.join", &F, After->getNextNode());
      II->setNormalDest(Join);
      B.CreateBr(Join);
      IRBuilder<> JB(Join);
      PHINode *Merged = nullptr;
      if (Result) {
        Merged = JB.CreatePHI(CB->getType(), 2, "capri.merged");
        Merged->addIncoming(CB, Direct);
        Merged->addIncoming(Result, After);
      }
      JB.CreateBr(Normal);
      for (PHINode &P : Normal->phis())
        for (unsigned I = 0, E = P.getNumIncomingValues(); I != E; ++I)
          if (P.getIncomingBlock(I) == Direct) {
            P.setIncomingBlock(I, Join);
            if (Merged && P.getIncomingValue(I) == CB)
              P.setIncomingValue(I, Merged);
          }
      if (Merged)
        CB->replaceUsesWithIf(Merged, [&](Use &U) {
          return U.getUser() != Merged && !isa<PHINode>(U.getUser());
        });
    } else {
      B.CreateBr(Join);
      if (Result && !CB->use_empty()) {
        PHINode *Merged = PHINode::Create(CB->getType(), 2, "capri.merged");
        Merged->insertBefore(Join->begin());
        CB->replaceAllUsesWith(Merged);
        Merged->addIncoming(CB, Direct);
        Merged->addIncoming(Result, Grow);
      }
    }

    int Index = Need ? int(NextTableIndex - 1) : -1;
    CB->setMetadata("capri.checkpoint",
                    MDNode::get(Ctx, {ConstantAsMetadata::get(B.getInt32(unsigned(S.Reason))),
                                      ConstantAsMetadata::get(B.getInt64(S.Region)),
                                      ConstantAsMetadata::get(B.getInt32(Index)),
                                      ConstantAsMetadata::get(B.getInt64(S.StackArgs))}));
  }

  /// Attributes of the caller that the thunk keeps: code generation
  /// (target, frame pointer, unwind tables, vector width) and sanitizers.
  static AttributeSet codegenAttributes(const Function &F) {
    AttrBuilder AB(F.getContext());
    for (const Attribute &A : F.getAttributes().getFnAttrs()) {
      if (A.isStringAttribute()) {
        AB.addAttribute(A);
        continue;
      }
      switch (A.getKindAsEnum()) {
      case Attribute::UWTable:
      case Attribute::SanitizeAddress:
      case Attribute::SanitizeHWAddress:
      case Attribute::SanitizeMemory:
      case Attribute::SanitizeThread:
      case Attribute::SanitizeMemTag:
      case Attribute::StrictFP:
      case Attribute::NoRedZone:
      case Attribute::NoImplicitFloat:
        AB.addAttribute(A);
        break;
      default:
        break;
      }
    }
    return AttributeSet::get(F.getContext(), AB);
  }

  std::pair<Function *, uint64_t> thunkFor(Function &F, CallBase &CB, const ArgumentBlock &AB) {
    std::vector<const Value *> Constants;
    for (unsigned I = 0, E = CB.arg_size(); I != E; ++I)
      if (AB.ArgField[I] < 0)
        Constants.push_back(CB.getArgOperand(I));
    AttributeSet CodeGen = codegenAttributes(F);
    ThunkKey Key{AB.HoldsCallee ? nullptr : CB.getCalledOperand(),
                 CB.getFunctionType(),
                 AB.Type,
                 CB.getAttributes().getRawPointer(),
                 CB.getCallingConv(),
                 Constants,
                 AttributeList::get(Ctx, AttributeList::FunctionIndex, CodeGen).getRawPointer(),
                 CB.doesNotThrow()};
    auto It = Thunks.find(Key);
    if (It != Thunks.end())
      return It->second;

    auto *Ty = FunctionType::get(Type::getVoidTy(Ctx), {Ptr}, false);
    Function *T = Function::Create(Ty, GlobalValue::InternalLinkage,
                                   F.getName() + ".capri.thunk", M);
    T->setAttributes(AttributeList::get(Ctx, AttributeList::FunctionIndex, CodeGen));
    T->addFnAttr(Attribute::NoInline);
    T->addFnAttr("capri-thunk");
    if (CB.doesNotThrow())
      T->addFnAttr(Attribute::NoUnwind);
    T->addParamAttr(0, Attribute::NoUndef);
    T->addParamAttr(0, Attribute::NonNull);

    IRBuilder<> B(BasicBlock::Create(Ctx, "entry", T));
    Value *BlockArg = T->getArg(0);
    BlockArg->setName("block");
    auto Field = [&](int I) { return B.CreateStructGEP(AB.Type, BlockArg, I); };
    Value *Callee = AB.HoldsCallee ? B.CreateLoad(Ptr, Field(0), "callee")
                                   : CB.getCalledOperand();
    SmallVector<Value *, 8> Args;
    for (unsigned I = 0, E = CB.arg_size(); I != E; ++I) {
      Value *Op = CB.getArgOperand(I);
      Args.push_back(AB.ArgField[I] < 0 ? Op
                                        : B.CreateLoad(Op->getType(), Field(AB.ArgField[I])));
    }
    CallInst *Call = B.CreateCall(CB.getFunctionType(), Callee, Args);
    Call->setCallingConv(CB.getCallingConv());
    Call->setAttributes(CB.getAttributes());
    if (AB.ResultField >= 0)
      B.CreateStore(Call, Field(AB.ResultField));
    if (CB.doesNotReturn())
      B.CreateUnreachable();
    else
      B.CreateRetVoid();
    ++NumThunks;

    uint64_t Frame = FAM.getResult<CapriFrameAnalysis>(*T).Total;
    return Thunks[Key] = {T, Frame};
  }
};

} // namespace

PreservedAnalyses CapriInstrumentPass::run(Module &M, ModuleAnalysisManager &MAM) {
  if (!Instrument || !analysesModule(M, AtLTOLink))
    return PreservedAnalyses::all();
  const CheckpointPlacementInfo &CP = MAM.getResult<CapriCheckpointAnalysis>(M);
  auto &FAM = MAM.getResult<FunctionAnalysisManagerModuleProxy>(M).getManager();
  if (!Instrumenter(M, FAM).run(CP))
    return PreservedAnalyses::all();
  return PreservedAnalyses::none();
}

} // namespace capri
