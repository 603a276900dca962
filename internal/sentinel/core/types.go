package core

import (
	"net"
	"strconv"
)

// Addr is an instance address as announced on the wire.
type Addr struct {
	IP   string
	Port int
}

// String renders ip:port (IPv6 addresses are bracketed).
func (a Addr) String() string { return net.JoinHostPort(a.IP, strconv.Itoa(a.Port)) }

// IsZero reports whether the address is unset.
func (a Addr) IsZero() bool { return a.IP == "" && a.Port == 0 }

// FailoverState mirrors Redis's SENTINEL_FAILOVER_STATE_* enum.
type FailoverState int

const (
	FailoverNone             FailoverState = iota // SENTINEL_FAILOVER_STATE_NONE
	FailoverWaitStart                             // SENTINEL_FAILOVER_STATE_WAIT_START
	FailoverSelectSlave                           // SENTINEL_FAILOVER_STATE_SELECT_SLAVE
	FailoverSendSlaveofNoOne                      // SENTINEL_FAILOVER_STATE_SEND_SLAVEOF_NOONE
	FailoverWaitPromotion                         // SENTINEL_FAILOVER_STATE_WAIT_PROMOTION
	FailoverReconfSlaves                          // SENTINEL_FAILOVER_STATE_RECONF_SLAVES
	FailoverUpdateConfig                          // SENTINEL_FAILOVER_STATE_UPDATE_CONFIG
)

var failoverStateNames = [...]string{"none", "wait_start", "select_slave", "send_slaveof_noone", "wait_promotion", "reconf_slaves", "update_config"}

// String returns the name Redis prints in SENTINEL MASTER's failover-state field.
func (s FailoverState) String() string {
	if s >= 0 && int(s) < len(failoverStateNames) {
		return failoverStateNames[s]
	}
	return "unknown"
}

// Kind is the role an instance has in this sentinel's view.
type Kind int

const (
	KindMaster Kind = iota
	KindReplica
	KindSentinel
)

// String returns the word Redis uses in event messages ("master", "slave", "sentinel").
func (k Kind) String() string {
	switch k {
	case KindMaster:
		return "master"
	case KindReplica:
		return "slave"
	default:
		return "sentinel"
	}
}

// Timing constants (Redis 7.0 values, milliseconds).
const (
	PingPeriod             = 1000
	InfoPeriod             = 10000
	FastInfoPeriod         = 1000
	PublishPeriod          = 2000
	AskPeriod              = 1000
	DefaultDownAfter       = 30000
	DefaultFailoverTimeout = 180000
	DefaultParallelSyncs   = 1
	TiltTrigger            = 2000
	TiltPeriod             = PingPeriod * 30
	ElectionTimeout        = 10000
	MaxDesync              = 1000
	SlaveReconfTimeout     = 10000
	MinLinkReconnectPeriod = 15000
	MaxPendingCommands     = 100
	ReconnectPeriod        = PingPeriod
	HelloChannel           = "__sentinel__:hello"
	DefaultSlavePriority   = 100
	RunIDSize              = 40
)

// ---------------------------------------------------------------------------
// Inputs

// Input is anything that can be passed to Node.Step: Tick, LinkUp,
// LinkDown, Reply, Message.
type Input interface{ isInput() }

// Event is an alias of Input (raft-style naming: Step(Event)).
type Event = Input

// Tick advances the node's notion of time. Now is a monotonic clock in
// milliseconds. The shell should tick about every 100 ms (Redis's hz 10).
type Tick struct{ Now int64 }

// LinkUp reports that the connection requested by a Connect action is
// established (for a pub/sub link: connected; the core then sends SUBSCRIBE).
type LinkUp struct{ Link LinkID }

// LinkDown reports that a link failed to connect or was closed by the peer or
// the network. All commands pending on it are considered lost.
type LinkDown struct {
	Link   LinkID
	Reason string
}

// Reply delivers the reply to a SendCommand (matched by ID). For a batch
// (MULTI..EXEC) the Value is the reply to the last command (EXEC). Err is
// non-empty when no reply will come (timeout, write error); the core treats it
// like a lost reply.
type Reply struct {
	Link  LinkID
	ID    uint64
	Value Resp
	Err   string
}

// Message is a pub/sub message received on a pub/sub link (Link != 0), or a
// PUBLISH __sentinel__:hello received by this sentinel's own server (Link 0).
type Message struct {
	Link    LinkID
	Channel string
	Payload string
}

func (Tick) isInput()     {}
func (LinkUp) isInput()   {}
func (LinkDown) isInput() {}
func (Reply) isInput()    {}
func (Message) isInput()  {}

// RespKind is the RESP type of a reply value.
type RespKind uint8

const (
	RespNil RespKind = iota
	RespStatus
	RespError
	RespInt
	RespBulk
	RespArray
)

// Resp is a decoded RESP value.
type Resp struct {
	Kind  RespKind
	Str   string
	Int   int64
	Elems []Resp
}

// Status, ErrorReply, Bulk, Int and Array are small constructors for Resp.
func Status(s string) Resp         { return Resp{Kind: RespStatus, Str: s} }
func ErrorReply(s string) Resp     { return Resp{Kind: RespError, Str: s} }
func Bulk(s string) Resp           { return Resp{Kind: RespBulk, Str: s} }
func Int(i int64) Resp             { return Resp{Kind: RespInt, Int: i} }
func Array(e ...Resp) Resp         { return Resp{Kind: RespArray, Elems: e} }
func (r Resp) isStr(s string) bool { return (r.Kind == RespStatus || r.Kind == RespBulk) && r.Str == s }

// ---------------------------------------------------------------------------
// Outputs

// LinkID identifies one connection requested by the core. IDs are never
// reused within a Node's lifetime.
type LinkID uint64

// LinkKind distinguishes the command link from the pub/sub link.
type LinkKind int

const (
	LinkCommand LinkKind = iota
	LinkPubSub
)

// Action is one output of the core; see the concrete types.
type Action interface{ isAction() }

// PersistState asks the shell to durably rewrite the sentinel section of the
// config file with Lines (each prefixed by "sentinel"). When present it is
// always the first action of a Ready batch and must complete before any other
// action of the batch (and before replying to an is-master-down-by-addr
// request that produced it).
type PersistState struct{ Lines [][]string }

// Connect asks the shell to open a connection to Addr. For LinkCommand the
// shell authenticates (AuthUser/AuthPass) and sets the client name before
// reporting LinkUp; for LinkPubSub likewise, then the core sends SUBSCRIBE.
type Connect struct {
	Link       LinkID
	Kind       LinkKind
	Addr       Addr
	AuthUser   string
	AuthPass   string
	ClientName string
}

// Disconnect asks the shell to close a link. No LinkDown is expected back.
type Disconnect struct{ Link LinkID }

// Purpose tags a SendCommand so shells and tests can log/inspect it.
type Purpose int

const (
	PurposePing Purpose = iota
	PurposeInfo
	PurposeHello
	PurposeSubscribe
	PurposeAskMasterDown
	PurposePromote        // SLAVEOF NO ONE on the selected replica
	PurposeReconfigure    // SLAVEOF new-master during reconf_slaves
	PurposeConvertToSlave // old master returned
	PurposeFixSlaveConfig // replica pointing to the wrong master
	PurposeScriptKill
)

var purposeNames = [...]string{"ping", "info", "hello", "subscribe", "ask-master-down", "promote", "reconfigure", "convert-to-slave", "fix-slave-config", "script-kill"}

func (p Purpose) String() string { return purposeNames[p] }

// SendCommand asks the shell to write Cmds on the link (pipelined, in order)
// and to deliver the reply to the last one as Reply{ID}. Multi-command
// batches (MULTI ... EXEC) are one action. Epoch is the failover epoch for
// PurposePromote/PurposeReconfigure, else 0.
type SendCommand struct {
	Link    LinkID
	Addr    Addr
	ID      uint64
	Cmds    [][]string
	Purpose Purpose
	Epoch   uint64
}

// Level is a log level for a published event.
type Level int

const (
	LevelDebug Level = iota
	LevelVerbose
	LevelNotice
	LevelWarning
)

// Publish asks the shell to publish Msg on the Sentinel pub/sub channel named
// Type (e.g. "+sdown"), and to log "Type Msg" at Level. Epoch carries the
// epoch the event refers to, where meaningful (machine-readable extra; it is
// not part of the wire message).
type Publish struct {
	Type   string
	Msg    string
	Level  Level
	Master string
	Epoch  uint64
}

// Line is the log line Redis writes for this event.
func (p Publish) Line() string { return p.Type + " " + p.Msg }

// ScriptKind distinguishes the two user scripts.
type ScriptKind int

const (
	NotificationScript ScriptKind = iota
	ClientReconfigScript
)

// RunScript asks the shell to execute Path with Args (Redis semantics: queued,
// retried on exit code 1, max 60 s runtime, at most 16 running).
type RunScript struct {
	Kind ScriptKind
	Path string
	Args []string
}

func (PersistState) isAction() {}
func (Connect) isAction()      {}
func (Disconnect) isAction()   {}
func (SendCommand) isAction()  {}
func (Publish) isAction()      {}
func (RunScript) isAction()    {}

// Ready is the batch of outputs accumulated since the previous call to
// Node.Ready. Apply Actions in order.
type Ready struct{ Actions []Action }
