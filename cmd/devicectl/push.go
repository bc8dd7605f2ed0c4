package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	deviceclient "github.com/devicebridge/caddy-devicebridge/client"
)

// The push commands look after a user's push subscriptions: the usual
// complaint they answer is "my phone gets every push twice" after a
// reinstall, when the previous install's subscriptions still live.

// maxUnsubscribeIDs is how many ids one push.unsubscribe takes.
const maxUnsubscribeIDs = 20

// errPushMailbox: Graph's delegated subscriptions cover the signed-in
// user's own mailbox only, and the bridge refuses a push command with one.
var errPushMailbox = errors.New("push covers only the token's own mailbox: drop --mailbox")

func newPushCommand(conn *connection) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "push",
		Short: "List and remove the user's push subscriptions",
	}
	cmd.AddCommand(newPushLsCommand(conn), newPushRmCommand(conn))
	return cmd
}

func newPushLsCommand(conn *connection) *cobra.Command {
	var device string
	cmd := &cobra.Command{
		Use:   "ls [--device ID]",
		Short: "List the subscriptions; with --device, those made by that app install are marked *",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if conn.mailbox != "" {
				return errPushMailbox
			}
			c, err := conn.client()
			if err != nil {
				return err
			}
			subs, err := c.PushList(cmd.Context(), deviceclient.PushListArgs{Device: device})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, s := range subs {
				mark := " "
				if s.Mine {
					mark = "*"
				}
				watch, platform := s.Watch, s.Platform
				if watch == "" {
					// Not this bridge's, or its routing record no longer opens.
					watch, platform = "?", "?"
				}
				fmt.Fprintf(out, "%s %-8s %-8s %-20s %s\n", mark, watch, platform, s.Expires, s.ID)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&device, "device", "", "the app's per-install id")
	return cmd
}

func newPushRmCommand(conn *connection) *cobra.Command {
	var device string
	cmd := &cobra.Command{
		Use:   "rm [ID…] [--device ID]",
		Short: "Remove subscriptions by id, or all those made by one app install (--device)",
		RunE: func(cmd *cobra.Command, args []string) error {
			if conn.mailbox != "" {
				return errPushMailbox
			}
			if (len(args) == 0) == (device == "") {
				return errors.New("give subscription ids or --device, not both")
			}
			c, err := conn.client()
			if err != nil {
				return err
			}
			ids := distinct(args)
			if device != "" {
				subs, err := c.PushList(cmd.Context(), deviceclient.PushListArgs{Device: device})
				if err != nil {
					return err
				}
				for _, s := range subs {
					if s.Mine {
						ids = append(ids, s.ID)
					}
				}
			}
			// An id already gone counts as removed, so a chunk that fails
			// may be sent again whole; the chunks before it stay done.
			for start := 0; start < len(ids); start += maxUnsubscribeIDs {
				chunk := ids[start:min(start+maxUnsubscribeIDs, len(ids))]
				if err := c.PushUnsubscribe(cmd.Context(), deviceclient.PushUnsubscribeArgs{IDs: chunk}); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "removed %d of %d subscriptions\n", start, len(ids))
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %d subscriptions\n", len(ids))
			return nil
		},
	}
	cmd.Flags().StringVar(&device, "device", "", "remove every subscription made with this per-install id")
	return cmd
}

// distinct returns ids without repeats, in their first order: the bridge
// refuses an unsubscribe that names an id twice.
func distinct(ids []string) []string {
	out := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
