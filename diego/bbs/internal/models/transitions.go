package models

import (
	"google.golang.org/protobuf/proto"

	bbsv1 "github.com/anvilpaas/anvil/api/bbs/v1"
)

// EmptyInstanceKey reports whether k names no container: the BBS's own
// transitions (unclaiming, crashing by policy) carry no instance key.
func EmptyInstanceKey(k *bbsv1.ActualLRPInstanceKey) bool {
	return k.GetInstanceGuid() == "" && k.GetCellId() == ""
}

// SameInstance reports whether two instance keys name the same container.
func SameInstance(a, b *bbsv1.ActualLRPInstanceKey) bool {
	return proto.Equal(a, b) || (EmptyInstanceKey(a) && EmptyInstanceKey(b))
}

// AllowsTransition reports whether an instance in before may move to state to
// when asked by the holder of key (empty for the BBS itself). It is Diego's
// table; a crash is reported by the cell running the instance:
//
//	from \ to   UNCLAIMED     CLAIMED          RUNNING          CRASHED
//	UNCLAIMED   yes           yes              yes              no
//	CLAIMED     empty key     same instance    yes              same instance
//	RUNNING     empty key     same instance    same instance    same instance
//	CRASHED     empty key     same instance*   same instance*   no
//
// (* and the crashed record has an instance key.)
func AllowsTransition(before *bbsv1.ActualLRP, key *bbsv1.ActualLRPInstanceKey, to bbsv1.ActualLRPState) bool {
	same := SameInstance(before.GetInstanceKey(), key)
	empty := EmptyInstanceKey(key)
	switch before.GetState() {
	case bbsv1.ActualLRPState_ACTUAL_LRP_STATE_UNCLAIMED:
		return to == bbsv1.ActualLRPState_ACTUAL_LRP_STATE_UNCLAIMED ||
			to == bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CLAIMED ||
			to == bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING
	case bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CLAIMED:
		switch to {
		case bbsv1.ActualLRPState_ACTUAL_LRP_STATE_UNCLAIMED:
			return empty
		case bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CLAIMED, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CRASHED:
			return same
		case bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING:
			return true
		}
	case bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING:
		switch to {
		case bbsv1.ActualLRPState_ACTUAL_LRP_STATE_UNCLAIMED:
			return empty
		case bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CLAIMED, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CRASHED:
			return same
		}
	case bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CRASHED:
		hasKey := !EmptyInstanceKey(before.GetInstanceKey())
		switch to {
		case bbsv1.ActualLRPState_ACTUAL_LRP_STATE_UNCLAIMED:
			return empty
		case bbsv1.ActualLRPState_ACTUAL_LRP_STATE_CLAIMED, bbsv1.ActualLRPState_ACTUAL_LRP_STATE_RUNNING:
			return hasKey && same
		}
	}
	return false
}
