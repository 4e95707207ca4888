package models

import (
	"testing"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

func TestAllowsTransition(t *testing.T) {
	t.Parallel()
	const (
		unclaimed = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_UNCLAIMED
		claimed   = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CLAIMED
		running   = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING
		crashed   = bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CRASHED
	)
	mine := &bbsv1.ActualLRPInstanceKey{InstanceGuid: "i-1", CellId: "cell-a"}
	other := &bbsv1.ActualLRPInstanceKey{InstanceGuid: "i-2", CellId: "cell-b"}
	var none *bbsv1.ActualLRPInstanceKey
	lrp := func(s bbsv1.ActualLRPState, k *bbsv1.ActualLRPInstanceKey) *bbsv1.ActualLRP {
		return &bbsv1.ActualLRP{State: s, InstanceKey: k}
	}
	tests := []struct {
		name   string
		before *bbsv1.ActualLRP
		key    *bbsv1.ActualLRPInstanceKey
		to     bbsv1.ActualLRPState
		want   bool
	}{
		{"unclaimed to unclaimed", lrp(unclaimed, none), none, unclaimed, true},
		{"unclaimed to claimed", lrp(unclaimed, none), mine, claimed, true},
		{"unclaimed to running", lrp(unclaimed, none), mine, running, true},
		{"unclaimed to crashed", lrp(unclaimed, none), mine, crashed, false},
		{"claimed to unclaimed by bbs", lrp(claimed, mine), none, unclaimed, true},
		{"claimed to unclaimed by cell", lrp(claimed, mine), mine, unclaimed, false},
		{"claimed reclaimed by owner", lrp(claimed, mine), mine, claimed, true},
		{"claimed stolen by other", lrp(claimed, mine), other, claimed, false},
		{"claimed to running", lrp(claimed, mine), mine, running, true},
		{"claimed to crashed by its cell", lrp(claimed, mine), mine, crashed, true},
		{"claimed to crashed by another cell", lrp(claimed, mine), other, crashed, false},
		{"claimed to crashed without key", lrp(claimed, mine), none, crashed, false},
		{"running to unclaimed by bbs", lrp(running, mine), none, unclaimed, true},
		{"running to claimed by owner", lrp(running, mine), mine, claimed, true},
		{"running to claimed by other", lrp(running, mine), other, claimed, false},
		{"running to running by owner", lrp(running, mine), mine, running, true},
		{"running to running by other", lrp(running, mine), other, running, false},
		{"running to crashed by its cell", lrp(running, mine), mine, crashed, true},
		{"running to crashed by another cell", lrp(running, mine), other, crashed, false},
		{"crashed to unclaimed by bbs", lrp(crashed, none), none, unclaimed, true},
		{"crashed to unclaimed by cell", lrp(crashed, none), mine, unclaimed, false},
		{"crashed without key to claimed", lrp(crashed, none), mine, claimed, false},
		{"crashed with key to claimed by owner", lrp(crashed, mine), mine, claimed, true},
		{"crashed with key to running by other", lrp(crashed, mine), other, running, false},
		{"crashed to crashed", lrp(crashed, none), none, crashed, false},
		{"unspecified state", lrp(bbsv1.ActualLRPState_ACTUAL_LRP_STATE_UNSPECIFIED, none), none, unclaimed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := AllowsTransition(tt.before, tt.key, tt.to); got != tt.want {
				t.Errorf("AllowsTransition = %v, want %v", got, tt.want)
			}
		})
	}
}
