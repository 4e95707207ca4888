package containerd

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apitasks "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/containerd/typeurl/v2"

	"github.com/anvilpaas/anvil/diego/rep/internal/runtime"
)

// List returns the cell's containers, sorted by id, with the labels they
// were created with, their network, and the ids of their running
// processes.
func (r *Runtime) List(ctx context.Context) ([]*runtime.Container, error) {
	if r.base.Err() != nil {
		return nil, ErrClosed
	}
	ctx = r.ctx(ctx)
	cs, err := r.list(ctx)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	for _, c := range cs {
		ids, err := r.execIDs(ctx, c.ID)
		if err != nil {
			return nil, fmt.Errorf("list containers: processes of %s: %w", c.ID, err)
		}
		c.Processes = ids
	}
	return cs, nil
}

// list returns the cell's containers without their processes.
func (r *Runtime) list(ctx context.Context) ([]*runtime.Container, error) {
	cs, err := r.client.Containers(r.ctx(ctx), `labels."`+labelManaged+`"==1`)
	if err != nil {
		return nil, err
	}
	out := make([]*runtime.Container, 0, len(cs))
	for _, c := range cs {
		info, err := c.Info(ctx, client.WithoutRefreshedMetadata)
		if err != nil {
			return nil, err
		}
		out = append(out, containerFromLabels(c.ID(), info.Labels))
	}
	slices.SortFunc(out, func(a, b *runtime.Container) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// execIDs returns the ids of the running exec'd processes of a container:
// the runc shim names them in the details of each pid.
func (r *Runtime) execIDs(ctx context.Context, containerID string) ([]string, error) {
	resp, err := r.client.TaskService().ListPids(ctx, &apitasks.ListPidsRequest{ContainerID: containerID})
	err = errgrpc.ToNative(err)
	if errdefs.IsNotFound(err) {
		return nil, nil // no task: nothing runs
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, p := range resp.GetProcesses() {
		if p.GetInfo() == nil {
			continue
		}
		v, err := typeurl.UnmarshalAny(p.GetInfo())
		if err != nil {
			continue
		}
		if d, ok := v.(*options.ProcessDetails); ok && d.ExecID != "" && !slices.Contains(ids, d.ExecID) {
			ids = append(ids, d.ExecID)
		}
	}
	slices.Sort(ids)
	return ids, nil
}
