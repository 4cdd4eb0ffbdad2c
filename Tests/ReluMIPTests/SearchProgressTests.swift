import Foundation
import Testing

@testable import ReluMIP

@Suite("Progress of a long search")
struct SearchProgressTests {
  /// The bound on the live line never rises: a later bound of the open nodes above one reported
  /// before (a child's bound can come out above its parent's) shows as that earlier, lower one;
  /// the other fields pass through as they come.
  @Test func reportedBoundNeverRises() {
    final class Reports: @unchecked Sendable {
      let lock = NSLock()
      var bounds: [Double?] = []
      var searched: [Int] = []
    }
    let reports = Reports()
    let throttle = ProgressThrottle(
      { progress in
        reports.lock.withLock {
          reports.bounds.append(progress.bestBound)
          reports.searched.append(progress.searched)
        }
      }, interval: .zero)
    let bounds: [Double?] = [nil, 1.3, 0.73, 1.26, 0.5, nil, 0.9, -0.2]
    for (index, bound) in bounds.enumerated() {
      throttle.tick {
        SearchProgress(
          unit: "subproblems", elapsed: 0, searched: index, open: 1, bestBound: bound,
          bestMargin: nil)
      }
    }
    #expect(reports.bounds == [nil, 1.3, 0.73, 0.73, 0.5, nil, 0.5, -0.2])
    #expect(reports.searched == Array(bounds.indices))
  }

  /// The bound a progress report gives covers the nodes that workers hold as well as those
  /// waiting: a worker takes the most promising node, and the heap's largest left alone would
  /// understate the bound until that worker hands back its children.
  @Test func openBoundCoversNodesBeingWorkedOn() {
    struct Node: FrontierNode {
      var parentBound: Double
      static func < (a: Node, b: Node) -> Bool { a.parentBound < b.parentBound }
    }
    let frontier = SharedFrontier([
      Node(parentBound: 0.5), Node(parentBound: 2), Node(parentBound: 1),
    ])
    #expect(frontier.largestOpenBound == 2)
    let first = frontier.take(worker: 0)
    #expect(first?.parentBound == 2)
    #expect(frontier.largestOpenBound == 2)
    let second = frontier.take(worker: 1)
    #expect(second?.parentBound == 1)
    #expect(frontier.largestOpenBound == 2)
    frontier.complete(worker: 0, adding: [Node(parentBound: 1.5)])
    #expect(frontier.largestOpenBound == 1.5)
    frontier.complete(worker: 1)
    #expect(frontier.largestOpenBound == 1.5)
    #expect(frontier.progress(unit: "subproblems", searched: 2, bestMargin: -1).bestBound == 1.5)
    for expected in [1.5, 0.5] {
      #expect(frontier.take(worker: 1)?.parentBound == expected)
      #expect(frontier.largestOpenBound == expected)
      frontier.complete(worker: 1)
    }
    #expect(frontier.largestOpenBound == nil)
    #expect(frontier.take(worker: 0) == nil)
  }

  /// Reports come at most once per interval, however often the workers tick.
  @Test func reportsAreThrottled() {
    final class Count: @unchecked Sendable {
      let lock = NSLock()
      var value = 0
    }
    let count = Count()
    let throttle = ProgressThrottle(
      { _ in count.lock.withLock { count.value += 1 } }, interval: .seconds(3600))
    for index in 0..<100 {
      throttle.tick {
        SearchProgress(
          unit: "boxes", elapsed: 0, searched: index, open: 1, bestBound: nil, bestMargin: nil)
      }
    }
    #expect(count.value == 0)
  }
}
