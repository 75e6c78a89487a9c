//===-- CapriOptions.cpp - command-line options of the capri plugin -------===//
#include "CapriOptions.h"

using namespace llvm;

namespace capri {

cl::opt<RecursionSeverity> RecursionDiagnostic(
    "capri-recursion", cl::desc("How to report recursion found at compile time"),
    cl::init(RecursionSeverity::Remark),
    cl::values(clEnumValN(RecursionSeverity::Off, "off", "say nothing"),
               clEnumValN(RecursionSeverity::Remark, "remark",
                          "an analysis remark (-Rpass-analysis=capri)"),
               clEnumValN(RecursionSeverity::Warning, "warning", "a warning"),
               clEnumValN(RecursionSeverity::Error, "error", "an error")));

cl::opt<unsigned> ExternalReserve(
    "capri-external-reserve",
    cl::desc("Bytes of stack assumed for a call into code without capri "
             "metadata (libc, other libraries) or an unresolved indirect call"),
    cl::init(16384));

cl::opt<unsigned> FrameMargin(
    "capri-frame-margin",
    cl::desc("Bytes added to every frame estimate for what the code generator "
             "adds that IR does not show"),
    cl::init(16));

cl::opt<bool> EmitMetadata("capri-emit-metadata",
                           cl::desc("Write the capri metadata record into the module"),
                           cl::init(true));

cl::opt<unsigned> MaxPath(
    "capri-max-path",
    cl::desc("Most bytes of stack a path between two checkpoints may use "
             "(Capriccio's MaxPath)"),
    cl::init(2048));

cl::opt<unsigned> MinChunk(
    "capri-min-chunk",
    cl::desc("Smallest stack chunk, in bytes, the slow path of a checkpoint "
             "asks the runtime for"),
    cl::init(4096));

cl::opt<unsigned> Slack(
    "capri-slack",
    cl::desc("Bytes the runtime keeps free below a thread's limit word: a "
             "region this small needs only a compare with the limit (must "
             "match the runtime's LIMIT_SLACK)"),
    cl::init(256));

cl::opt<bool> Instrument(
    "capri-instrument",
    cl::desc("Insert the checkpoints placement chose (the limit compare and "
             "the __morestack slow path)"),
    cl::init(true));

cl::opt<bool> YieldSites(
    "capri-yield-sites",
    cl::desc("Record yield sites (calls that may park the thread) with their live "
             "state in the metadata, and store each site's descriptor address into "
             "__capri_yield_site before the call"),
    cl::init(true));

cl::opt<bool> ShrinkYieldFrames(
    "capri-shrink-yield-frames",
    cl::desc("Move the lifetime region of a large stack object that is dead at "
             "every yield site of its function into a function of its own, so a "
             "thread blocked there does not hold it"),
    cl::init(false));

cl::opt<unsigned> ShrinkThreshold(
    "capri-shrink-threshold",
    cl::desc("Smallest stack object, in bytes, -capri-shrink-yield-frames moves"),
    cl::init(512));

cl::opt<bool> LoopYieldPoints(
    "capri-loop-yield-points",
    cl::desc("Check the preemption bit of the limit word on loop back edges, so "
             "that a compute-bound loop yields when its time slice is over"),
    cl::init(true));

cl::opt<unsigned> LoopMinTrip(
    "capri-loop-min-trip",
    cl::desc("Loops without calls whose constant maximum trip count is below "
             "this get no loop yield point"),
    cl::init(64));

cl::opt<unsigned> LoopChunkWork(
    "capri-loop-chunk-work",
    cl::desc("Instructions a call-free counted loop may run between two of its "
             "preemption checks: the loop is checked once every "
             "(this / loop size) iterations"),
    cl::init(65536));

} // namespace capri
