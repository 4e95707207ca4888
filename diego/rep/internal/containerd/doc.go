// Package containerd runs a cell's containers on containerd (1.6 or
// later, with runc), implementing runtime.Runtime.
//
// # Model
//
// A stack (EnsureStack) is a directory imported once into a committed
// overlayfs snapshot, labelled containerd.io/gc.root so that the garbage
// collector keeps it. Each container (Create) gets:
//
//   - a writable layer: an active snapshot on the stack, keyed by the
//     container id, into which the spec's tarballs are extracted (owned by
//     their UID:GID) before anything starts;
//   - PID 1: catatonit -P (pause mode), bind-mounted read-only from the
//     host, running as vcap (2000:2000). It reaps orphans and holds the
//     namespaces; the rep's processes are exec'd next to it (Run), each
//     with its own stdio, as in Garden;
//   - limits: a hard memory limit without swap, cpu.shares from the CPU
//     weight (1024 at 100, at least 10), a pids limit (config default
//     1024), the open-file limit, no-new-privileges, and containerd's
//     default seccomp profile; processes keep no capabilities;
//   - a network (below), and the container's own cgroups mounted
//     read-only at /sys/fs/cgroup.
//
// Disk quotas are not enforced (overlayfs on ext4 has no project quota):
// ContainerSpec.DiskBytes is ignored, and Metrics reports the writable
// layer's size as the disk use. AppArmor is not used.
//
// # Networking
//
// Config.Network.Mode selects it. Each ContainerSpec port gets a host port
// from Config.PortRange, and the Container's Ports list them in the spec's
// order:
//
//   - host: the container shares the cell's network namespace. There is
//     no translation, so the process must listen on the host port itself:
//     the mapping's ContainerPort is the host port, not the requested one
//     (the rep passes PORT from the mapping). Container.IP is HostIP.
//   - bridge: each container gets a network namespace (a bind-mounted file
//     under the state directory) on the cell's bridge, through the CNI
//     plugins bridge, host-local, portmap and loopback. The requested
//     container port is mapped to the host port (also for 127.0.0.1 on the cell), and
//     Container.IP is the container's own address. Each cell on a host
//     needs its own bridge, subnet, network name and port range. The
//     bridge and the portmap iptables chains stay when the last container
//     goes; removing them is the cell's decommissioning, not Destroy's.
//
// # Restarts
//
// Containers, their labels (the spec's, plus the runtime's own under
// anvil.rep/: network namespace, address, port mappings) and their
// processes outlive the rep. Process output goes through FIFOs in the
// state directory's fifo/, which the shim keeps open: after a restart a
// new Runtime finds the containers with List (with the ids of their
// running processes) and reconnects with Attach. While no rep reads,
// output waits in the FIFOs, and a process that fills them (about 64 KiB
// each) blocks on writing. Close detaches a Runtime from its processes
// without stopping them, which is also how tests simulate a restart.
//
// Cleanup removes what crashes left: the networks of containers that were
// never created or only half destroyed (each container's network is
// recorded under networks/ before it is set up), stray writable layers,
// unused FIFO directories, network namespaces and temporary mounts. Dead
// containers (PID 1 gone) are left for the rep to Destroy; List shows them
// without processes.
//
// # Exits and OOM
//
// A process's Wait returns once it exited and its output was copied (at
// most 2 s after the exit, in case a child it left holds stdout open). The
// runtime then deletes it from the shim, so Attach to it fails with
// runtime.ErrNotFound. A process ended by a signal exits 128+signal.
// OOMKilled is set when it exited 137 and the container's cgroup counted
// an OOM kill since the process started, seen either as a /tasks/oom event
// (one subscription per Runtime) or in the cgroup's oom_kill counter.
//
// # Concurrency
//
// A Runtime is safe for concurrent use. Create, Destroy and Cleanup's
// per-container work on one container id are serialised; everything else
// runs concurrently. Lock order: the per-id lock, then mntMu or fifoMu,
// then mu.
//
// # Namespaces
//
// Everything lives in the containerd namespace Config.Namespace, which
// must be unique per cell on a host even across containerd daemons: runc
// state (/run/containerd/runc/<ns>/<id>) and cgroups (/<ns>/<id>) are
// keyed by namespace and id alone.
package containerd
