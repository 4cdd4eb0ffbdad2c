import Foundation
import GLPK
import HeapModule

/// The open nodes of a best-first branch and bound, shared by the threads that work on it.
///
/// A worker takes the most promising node, bounds it without the lock, and hands back its
/// children with ``complete(worker:adding:)``. The search is over when nothing is open and no
/// worker still holds a node (its children could reopen it), or when a worker calls ``stop()`` (a
/// counterexample, the time limit). With one thread the nodes come out in exactly the order of a
/// plain heap, so `--threads 1` searches as the sequential code did.
final class SharedFrontier<Node: FrontierNode>: @unchecked Sendable {
  private let condition = NSCondition()
  private var heap: Heap<Node>
  /// The parent bound of the node each worker holds, by worker (a worker holds at most one; no
  /// entry while it holds none): those nodes are still open, and each was the most promising
  /// when it was taken.
  private var workingBounds: [Int: Double] = [:]
  private var stopped = false
  private var failure: Error?

  init(_ roots: [Node]) { heap = Heap(roots) }

  /// The most promising open node, or nil once the search is over. Waits while nothing is open
  /// but another worker may still add children.
  func take(worker: Int) -> Node? {
    condition.lock()
    defer { condition.unlock() }
    while true {
      if stopped { return nil }
      if let node = heap.popMax() {
        workingBounds[worker] = node.parentBound
        return node
      }
      if workingBounds.isEmpty { return nil }
      condition.wait()
    }
  }

  /// Ends the work on a node taken with ``take(worker:)``, opening its children.
  func complete(worker: Int, adding children: [Node] = []) {
    condition.lock()
    heap.insert(contentsOf: children)
    workingBounds[worker] = nil
    condition.broadcast()
    condition.unlock()
  }

  /// Ends the search for every worker: ``take()`` returns nil from now on.
  func stop() {
    condition.lock()
    stopped = true
    condition.broadcast()
    condition.unlock()
  }

  /// Whether ``stop()`` has been called: long work on a node can end early.
  var isStopped: Bool {
    condition.lock()
    defer { condition.unlock() }
    return stopped
  }

  /// The largest parent bound of the open nodes, those being worked on included; nil when
  /// none is open.
  var largestOpenBound: Double? {
    condition.lock()
    defer { condition.unlock() }
    let bounds = workingBounds.values + (heap.max.map { [$0.parentBound] } ?? [])
    return bounds.max()
  }

  /// Nodes open or being worked on.
  var openCount: Int {
    condition.lock()
    defer { condition.unlock() }
    return heap.count + workingBounds.count
  }

  /// Works the frontier on `threads` threads until the search is over: `expand` bounds each node
  /// taken and returns its children, `afterEach` runs once they are open. The first error thrown
  /// stops every worker and is rethrown here once all have returned.
  func search(
    threads: Int, name: String, expand: @escaping @Sendable (Node) throws -> [Node],
    afterEach: @escaping @Sendable () -> Void
  ) throws {
    runOnThreads(max(1, threads), name: name) { worker in
      while let node = self.take(worker: worker) {
        do {
          self.complete(worker: worker, adding: try expand(node))
          afterEach()
        } catch {
          self.condition.lock()
          if self.failure == nil { self.failure = error }
          self.condition.unlock()
          self.stop()
          self.complete(worker: worker)
        }
      }
    }
    condition.lock()
    defer { condition.unlock() }
    if let failure { throw failure }
  }

  /// Where the search stands, for a progress report: the open nodes' largest parent bound.
  func progress(unit: String, searched: Int, bestMargin: Double) -> SearchProgress {
    let bound = largestOpenBound
    return SearchProgress(
      unit: unit, elapsed: 0, searched: searched, open: openCount,
      bestBound: bound.flatMap { $0.isFinite ? $0 : nil },
      bestMargin: bestMargin > -.infinity ? bestMargin : nil)
  }
}

/// A node of a best-first search: the most promising has the largest bound from its parent.
protocol FrontierNode: Comparable {
  var parentBound: Double { get }
}

/// Runs `work(worker)` on `threads` threads, one of them the caller's, and returns when all have
/// returned. With one thread nothing is spawned.
func runOnThreads(_ threads: Int, name: String, _ work: @escaping @Sendable (Int) -> Void) {
  guard threads > 1 else {
    work(0)
    return
  }
  let finished = DispatchGroup()
  for worker in 1..<threads {
    finished.enter()
    let thread = Thread {
      work(worker)
      // Every GLPK problem of this thread lived inside `work`; without this each search's
      // threads would leave their GLPK environments behind.
      GLPKMemory.releaseThreadEnvironment()
      finished.leave()
    }
    thread.name = "\(name)-\(worker)"
    // The bound computations and GLPK run here: give them the main thread's usual stack.
    thread.stackSize = 8 << 20
    thread.start()
  }
  work(0)
  finished.wait()
}
