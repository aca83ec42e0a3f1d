package layout

import "fmt"

// The in-flight table, {hub}InFlight, is this project's: one row per
// instance whose worker holds work for it that storage alone does not show
// (activities run in its process, a row write that follows a checkpoint, a
// continue-as-new between its two writes). PartitionKey is the instance's
// control-queue partition, RowKey its escaped ID; a row has no other
// columns. A worker writes the row before the checkpoint that makes such
// work exist (not before the first checkpoint of a recent client start that
// leaves no activity open: the look for lost starts covers that one) and
// deletes it once the instance has been quiet for a while,
// so a worker that takes a partition over after a crash reads the rows of
// that partition alone, however many instances the hub holds. A row is a
// hint: recovery checks the instance's history and deletes rows that
// point at nothing to do.

// InFlightTable names the hub's in-flight table.
func InFlightTable(hub string) string { return hub + "InFlight" }

// InFlightPartitionKey is the in-flight table partition of control-queue
// partition p.
func InFlightPartitionKey(p int) string { return fmt.Sprintf("%02d", p) }

// InFlightEntity is the in-flight row of instance id in partition p.
func InFlightEntity(p int, id string) Entity {
	return Entity{propPartitionKey: InFlightPartitionKey(p), propRowKey: EscapePartitionKey(id)}
}
