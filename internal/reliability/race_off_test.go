//go:build !race

package reliability

// raceEnabled shrinks the loads: the race detector slows the relay 5-10x and
// limits a process to 8,128 live goroutines.
const raceEnabled = false
