//===-- YieldSites.h - calls that may park the calling capri thread -------===//
//
// A yield site is a call that may park (docs/yield-design.md):
//
//   direct      a call to a yield primitive (YieldPrimitives.def)
//   transitive  a call to a function of this module that reaches a direct
//               site (found on the call graph, bottom-up to a fixpoint, so a
//               cycle through a site parks)
//   unknown     a call the plugin cannot see into and cannot rule out: an
//               indirect call, a call to a function defined in another file
//               (the metadata of that file resolves it later), a call from
//               inline asm, or a call to a function of this module that only
//               reaches unknown sites
//
// Calls to functions known never to park (LibcStackMarks.def) make no site.
//
// CapriYieldSitesPass records each site for the metadata (the call gets
// !capri.yield_site), stores the address of its descriptor into the
// thread-local word __capri_yield_site before the calls that need it, and
// emits the live-state remarks (LiveState.h).
//
//===----------------------------------------------------------------------===//
#ifndef CAPRI_YIELD_SITES_H
#define CAPRI_YIELD_SITES_H

#include "capri_metadata.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/IR/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace llvm {
class CallBase;
class Function;
} // namespace llvm

namespace capri {

enum class YieldKind : uint8_t {
  Direct = CAPRI_MD_YIELD_DIRECT,
  Transitive = CAPRI_MD_YIELD_TRANSITIVE,
  Unknown = CAPRI_MD_YIELD_UNKNOWN,
};

const char *yieldKindName(YieldKind K);

/// Whether a function may park: it reaches a direct site (Parks), or only
/// sites it cannot see into (MayPark).
enum class ParkState : uint8_t { Never, MayPark, Parks };

struct YieldSite {
  const llvm::CallBase *Call = nullptr;
  YieldKind Kind = YieldKind::Unknown;
  std::string Callee;    ///< printable callee
  std::string Primitive; ///< Direct: the yield primitive
  bool Indirect = false;
  /// The site word is stored before the call (direct sites, and unknown
  /// ones whose callee is indirect or defined elsewhere).
  bool Store = false;
  /// ...and cleared after it (unknown sites: the callee may return without
  /// reaching a primitive, whose entry clears the word).
  bool ClearAfter = false;
};

class YieldSiteInfo {
public:
  /// Sites per function, in the order of the function's calls.
  llvm::MapVector<const llvm::Function *, std::vector<YieldSite>> Sites;
  llvm::DenseMap<const llvm::Function *, ParkState> State;

  ParkState stateOf(const llvm::Function *F) const {
    auto It = State.find(F);
    return It == State.end() ? ParkState::Never : It->second;
  }
  const std::vector<YieldSite> *sitesOf(const llvm::Function *F) const {
    auto It = Sites.find(F);
    return It == Sites.end() ? nullptr : &It->second;
  }
  bool invalidate(llvm::Module &, const llvm::PreservedAnalyses &PA,
                  llvm::ModuleAnalysisManager::Invalidator &);
};

/// Whether Name is a yield primitive (YieldPrimitives.def).
bool isYieldPrimitive(llvm::StringRef Name);
/// Whether a call to Name never parks (LibcStackMarks.def).
bool neverParks(llvm::StringRef Name);

class CapriYieldSiteAnalysis : public llvm::AnalysisInfoMixin<CapriYieldSiteAnalysis> {
  friend llvm::AnalysisInfoMixin<CapriYieldSiteAnalysis>;
  static llvm::AnalysisKey Key;

public:
  using Result = YieldSiteInfo;
  Result run(llvm::Module &M, llvm::ModuleAnalysisManager &MAM);
};

/// print<capri-yield-sites>: each function's park state and its sites with
/// kind, callee, location, frame, live and dead bytes.
struct CapriYieldSitePrinter : llvm::PassInfoMixin<CapriYieldSitePrinter> {
  llvm::raw_ostream &OS;
  explicit CapriYieldSitePrinter(llvm::raw_ostream &OS) : OS(OS) {}
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &MAM);
  static bool isRequired() { return true; }
};

/// Records the sites for the metadata, stores the site word, emits the
/// live-state remarks (-Rpass-analysis=capri-live-state).
struct CapriYieldSitesPass : llvm::PassInfoMixin<CapriYieldSitesPass> {
  explicit CapriYieldSitesPass(bool AtLTOLink = false) : AtLTOLink(AtLTOLink) {}
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &MAM);
  static bool isRequired() { return true; }

private:
  bool AtLTOLink;
};

/// The thread-local word each stored site writes its descriptor into.
inline constexpr const char *YieldSiteWordName = "__capri_yield_site";
/// Placeholders for descriptor addresses: "capri.site.<n>", replaced by the
/// metadata emitter with the address of site n's entry in the record.
inline constexpr const char *SitePlaceholderPrefix = "capri.site.";
/// The call's metadata: !{kind, flags, primitive, frame, live, dead,
/// dead objects, placeholder number or -1}.
inline constexpr const char *YieldSiteMD = "capri.yield_site";

} // namespace capri

#endif
