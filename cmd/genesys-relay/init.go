package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// topicFamily is one family of Genesys Cloud EventBridge topics that init can
// route to a stream of its own: the route, its output and a test case.
type topicFamily struct {
	name, summary string
	route         string // YAML of the route, indented as an item of routes:
	output        string // YAML of the output, indented as an entry of outputs:
	test          string // YAML of a tests: case with a realistic event
}

// initOrg is the organization id of init's sample events.
const initOrg = "5f2c8a41-7d3e-4b9a-9c61-2e8f0a4b7d13"

var topicFamilies = []topicFamily{
	{
		name:    "conversation",
		summary: "v2.detail.events.conversation.{id}.* (customer.start, acd.end, acw, attributes, ...), keyed by conversation id",
		output:  "  conversations:\n    stream: genesys-conversations\n",
		route: `  - name: conversations
    when: 'event["detail-type"].startsWith("v2.detail.events.conversation.")'
    to: conversations
`,
		test: `  - name: a customer start goes to genesys-conversations, keyed by conversation id
    event:
      version: "0"
      id: 1d6c2a0e-3b1f-4c2e-9a41-6f0b8e2d7c01
      detail-type: v2.detail.events.conversation.{id}.customer.start
      source: aws.partner/genesys.com/cloud/` + initOrg + `/relay
      account: "123456789012"
      time: "2025-03-14T14:02:11Z"
      region: us-east-1
      resources: []
      detail:
        topicName: v2.detail.events.conversation.8c1e4f7a-2b3d-4e5f-9a6b-7c8d9e0f1a2b.customer.start
        version: "2"
        eventBody:
          eventTime: 1741960931123
          conversationId: 8c1e4f7a-2b3d-4e5f-9a6b-7c8d9e0f1a2b
          participantId: 1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d
          sessionId: 2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e
          mediaType: VOICE
          provider: Edge
          direction: INBOUND
          ani: "tel:+15555550142"
          dnis: "tel:+18005550100"
        metadata: {CorrelationId: f1a2b3c4-d5e6-4f70-8b81-c2d3e4f5a601}
        timestamp: "2025-03-14T14:02:11.473Z"
    expect:
      decision: forward
      routes:
        - {route: conversations, stream: genesys-conversations, partition_key: 8c1e4f7a-2b3d-4e5f-9a6b-7c8d9e0f1a2b}
`,
	},
	{
		name:    "presence",
		summary: "v2.users.{id}.presence, keyed by user id (from the topic name)",
		output:  "  presence:\n    stream: genesys-presence\n",
		route: `  - name: presence
    when: 'event["detail-type"].matches("^v2\\.users\\..*\\.presence$")'
    to: presence
    # The user id is only in the topic name: v2.users.{id}.presence.
    partition_key: {expr: 'detail.topicName.split(".")[2]'}
`,
		test: `  - name: a presence change goes to genesys-presence, keyed by user id
    event:
      version: "0"
      id: 1d6c2a0e-3b1f-4c2e-9a41-6f0b8e2d7c02
      detail-type: v2.users.{id}.presence
      source: aws.partner/genesys.com/cloud/` + initOrg + `/relay
      account: "123456789012"
      time: "2025-03-14T14:01:58Z"
      region: us-east-1
      resources: []
      detail:
        topicName: v2.users.9c0d1e2f-3a4b-4c5d-8e7f-809102132435.presence
        version: "2"
        eventBody:
          source: PURECLOUD
          presenceDefinition: {id: e08eaf1b-ee47-4fa9-a231-1200e284798f, systemPresence: ON_QUEUE}
          primary: true
          message: ""
          modifiedDate: "2025-03-14T14:01:57.912Z"
        metadata: {CorrelationId: c0d1e2f3-a4b5-4c6d-8e7f-9a0b1c2d3e50}
        timestamp: "2025-03-14T14:01:58.204Z"
    expect:
      decision: forward
      routes:
        - {route: presence, stream: genesys-presence, partition_key: 9c0d1e2f-3a4b-4c5d-8e7f-809102132435}
`,
	},
	{
		name:    "audits",
		summary: "v2.audits.entitytype.{id}.entityid.{id}, keyed by the audited entity's id",
		output:  "  audits:\n    stream: genesys-audits\n",
		route: `  - name: audits
    when: 'event["detail-type"].startsWith("v2.audits.")'
    to: audits
    partition_key: {expr: 'detail.eventBody.?entity.?id.orValue("")'}
`,
		test: `  - name: an audit goes to genesys-audits, keyed by the audited entity
    event:
      version: "0"
      id: 1d6c2a0e-3b1f-4c2e-9a41-6f0b8e2d7c03
      detail-type: v2.audits.entitytype.{id}.entityid.{id}
      source: aws.partner/genesys.com/cloud/` + initOrg + `/relay
      account: "123456789012"
      time: "2025-03-14T14:10:31Z"
      region: us-east-1
      resources: []
      detail:
        topicName: v2.audits.entitytype.UserPresence.entityid.9c0d1e2f-3a4b-4c5d-8e7f-809102132435
        version: "2"
        eventBody:
          id: b8775049-2993-450d-97d7-5d7c784d7c01
          userId: 9c0d1e2f-3a4b-4c5d-8e7f-809102132435
          serviceName: Presence
          eventTime: "2025-03-14T14:10:31.000Z"
          action: Update
          entityType: UserPresence
          entity: {id: 9c0d1e2f-3a4b-4c5d-8e7f-809102132435, name: Ana Souza}
          propertyChanges:
            - {property: PRESENCE, oldValues: [On Queue], newValues: [Break]}
        metadata: {CorrelationId: b61df0b3-9e33-444b-a455-1c92a33ef401-archival}
        timestamp: "2025-03-14T14:10:31.435Z"
    expect:
      decision: forward
      routes:
        - {route: audits, stream: genesys-audits, partition_key: 9c0d1e2f-3a4b-4c5d-8e7f-809102132435}
`,
	},
	{
		name:    "transcription",
		summary: "v2.conversations.{id}.transcription, keyed by conversation id",
		output:  "  transcripts:\n    stream: genesys-transcripts\n",
		route: `  - name: transcripts
    when: 'event["detail-type"].matches("^v2\\.conversations\\..*\\.transcription$")'
    to: transcripts
`,
		test: `  - name: a transcript goes to genesys-transcripts, keyed by conversation id
    event:
      version: "0"
      id: 1d6c2a0e-3b1f-4c2e-9a41-6f0b8e2d7c04
      detail-type: v2.conversations.{id}.transcription
      source: aws.partner/genesys.com/cloud/` + initOrg + `/relay
      account: "123456789012"
      time: "2025-03-14T14:04:07Z"
      region: us-east-1
      resources: []
      detail:
        topicName: v2.conversations.8c1e4f7a-2b3d-4e5f-9a6b-7c8d9e0f1a2b.transcription
        version: "2"
        eventBody:
          eventTime: "2025-03-14T14:04:07.221Z"
          organizationId: ` + initOrg + `
          conversationId: 8c1e4f7a-2b3d-4e5f-9a6b-7c8d9e0f1a2b
          communicationId: 5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a81
          sessionStartTimeMs: 1741961004118
          transcriptionStartTimeMs: 1741961004390
          transcripts:
            - utteranceId: 6f7a8b9c-0d1e-4f2a-9b3c-4d5e6f7a8b92
              isFinal: true
              channel: EXTERNAL
              alternatives:
                - {confidence: 0.91, offsetMs: 22140, durationMs: 2870, transcript: i would like to change my billing date}
              engineId: Genesys
              dialect: en-US
        metadata: {CorrelationId: a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d}
        timestamp: "2025-03-14T14:04:07.512Z"
    expect:
      decision: forward
      routes:
        - {route: transcripts, stream: genesys-transcripts, partition_key: 8c1e4f7a-2b3d-4e5f-9a6b-7c8d9e0f1a2b}
`,
	},
	{
		name:    "metrics",
		summary: "v2.analytics.conversation.{id}.metrics, keyed by conversation id",
		output:  "  analytics:\n    stream: genesys-analytics\n",
		route: `  - name: conversation_metrics
    when: 'event["detail-type"].matches("^v2\\.analytics\\.conversation\\..*\\.metrics$")'
    to: analytics
`,
		test: `  - name: a conversation metric goes to genesys-analytics, keyed by conversation id
    event:
      version: "0"
      id: 1d6c2a0e-3b1f-4c2e-9a41-6f0b8e2d7c05
      detail-type: v2.analytics.conversation.{id}.metrics
      source: aws.partner/genesys.com/cloud/` + initOrg + `/relay
      account: "123456789012"
      time: "2025-03-14T14:09:47Z"
      region: us-east-1
      resources: []
      detail:
        topicName: v2.analytics.conversation.8c1e4f7a-2b3d-4e5f-9a6b-7c8d9e0f1a2b.metrics
        version: "2"
        eventBody:
          metric: tHandle
          metricDate: "2025-03-14T14:09:46.424Z"
          value: 402306
          conversationId: 8c1e4f7a-2b3d-4e5f-9a6b-7c8d9e0f1a2b
          sessionId: 6f7a8b9c-0d1e-4f2a-9b4c-5d6e7f809102
          mediaType: voice
          queueId: 7a8b9c0d-1e2f-4a3b-8c5d-6e7f80910213
          userId: 9c0d1e2f-3a4b-4c5d-8e7f-809102132435
        metadata: {CorrelationId: d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f81}
        timestamp: "2025-03-14T14:09:47.102Z"
    expect:
      decision: forward
      routes:
        - {route: conversation_metrics, stream: genesys-analytics, partition_key: 8c1e4f7a-2b3d-4e5f-9a6b-7c8d9e0f1a2b}
`,
	},
}

const initHeader = `# genesys-relay configuration for Genesys Cloud's Amazon EventBridge integration,
# written by 'genesys-relay init --topics %s'.
#
# Each topic family goes to its own Kinesis stream (outputs:, routes:). Check it
# offline with 'genesys-relay test -c %s' (the tests: cases at the end), then run
# 'genesys-relay serve -c %s'. The README's configuration reference lists every key.
listen: "127.0.0.1:8080"
filter:
  # The integration's partner event source: aws.partner/genesys.com/cloud/{organizationId}/{name}.
  sources: ["aws.partner/genesys.com/*"]
  # Rules run in order before routing; the first that rejects an event names its
  # drop reason. For example:
  #   - name: no_email
  #     drop_if: 'detail.eventBody.?mediaType.orValue("") == "EMAIL"'
  rules: []
# The partition key of every route that does not set its own: all events of one
# conversation land on one shard, in order. Genesys ids are UUIDs: no hashing needed.
partition_key:
  expr: 'detail.eventBody.?conversationId.orValue("")'
  hash: none
enrich:
  fields:
    topic: 'detail.?topicName.orValue("")'
    organization_id: 'event.source.split("/")[3]'
# Settings every output starts from (region, endpoint, batching); an output may
# override any of them.
kinesis:
  region: us-east-1
outputs:
`

const initRoutes = `# An event goes to every route whose 'when' holds (a route without one takes every
# event); it is answered 200 only when every stream it goes to accepted it. An event
# no route takes is dropped with reason no_route.
routes:
`

const initArchive = `  # Keep every event in a raw archive stream as well (add the output first):
  # - name: archive
  #   to: archive
  #   partition_key: {expr: 'event.id'}
`

const initTests = `tests:
`

const initNoRoute = `  - name: topics without a route are dropped as no_route
    event:
      version: "0"
      id: 1d6c2a0e-3b1f-4c2e-9a41-6f0b8e2d7c06
      detail-type: v2.routing.queues.{id}.conversations
      source: aws.partner/genesys.com/cloud/` + initOrg + `/relay
      region: us-east-1
      detail:
        topicName: v2.routing.queues.7a8b9c0d-1e2f-4a3b-8c5d-6e7f80910213.conversations
        version: "2"
        eventBody: {id: 8c1e4f7a-2b3d-4e5f-9a6b-7c8d9e0f1a2b}
    expect: {decision: drop, reason: no_route}
`

// starterConfig returns the relay.yaml init writes for the named families.
func starterConfig(families []topicFamily, topics, path string) string {
	var b strings.Builder
	fmt.Fprintf(&b, initHeader, topics, path, path)
	for _, f := range families {
		b.WriteString(f.output)
	}
	b.WriteString(initRoutes)
	for _, f := range families {
		b.WriteString(f.route)
	}
	b.WriteString(initArchive)
	b.WriteString(initTests)
	for _, f := range families {
		b.WriteString(f.test)
	}
	b.WriteString(initNoRoute)
	return b.String()
}

func runInit(_ context.Context, args []string, e env) int {
	fs, cfgPath := newFlags("init", "", e)
	topics := fs.String("topics", "conversation,presence", "topic families, comma-separated: "+familyNames())
	force := fs.Bool("force", false, "overwrite an existing file")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: genesys-relay init [flags]\n\nWrites a commented starter config for Genesys Cloud's EventBridge integration\nto the -c file (- for standard output). Topic families:\n")
		for _, f := range topicFamilies {
			fmt.Fprintf(e.stderr, "  %-14s %s\n", f.name, f.summary)
		}
		fmt.Fprintf(e.stderr, "\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitInvalid
	}
	var chosen []topicFamily
	for _, name := range strings.Split(*topics, ",") {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(topicFamilies, func(f topicFamily) bool { return f.name == name })
		if i < 0 {
			fmt.Fprintf(e.stderr, "genesys-relay: init: unknown topic family %q (want %s)\n", name, familyNames())
			return exitInvalid
		}
		if !slices.ContainsFunc(chosen, func(f topicFamily) bool { return f.name == name }) {
			chosen = append(chosen, topicFamilies[i])
		}
	}
	names := make([]string, len(chosen))
	for i, f := range chosen {
		names[i] = f.name
	}
	text := starterConfig(chosen, strings.Join(names, ","), *cfgPath)
	if *cfgPath == "-" {
		fmt.Fprint(e.stdout, text)
		return exitOK
	}
	flag := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if *force {
		flag = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(*cfgPath, flag, 0o644)
	if errors.Is(err, os.ErrExist) {
		fmt.Fprintf(e.stderr, "genesys-relay: init: %s exists (use -force to overwrite it)\n", *cfgPath)
		return exitFailed
	}
	if err == nil {
		_, err = f.WriteString(text)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "genesys-relay: init: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(e.stderr, "wrote %s (%s); check it with: genesys-relay test -c %s\n", *cfgPath, strings.Join(names, ", "), *cfgPath)
	return exitOK
}

func familyNames() string {
	names := make([]string, len(topicFamilies))
	for i, f := range topicFamilies {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}
