# Reliability: failures people must see, the single-instance lock, the Mini App rate limit, customer data deletion.

reliability-update-failed = This message was not processed because of a server failure ({ $error }): nothing went to the customer. Please send it again.

reliability-forget-unknown = There is no customer { $customer } in this business.
reliability-forget-done = Customer { $customer }'s data deleted: dialogs: { $dialogs }, messages blanked: { $messages }, attachments: { $attachments } (files removed: { $files }), channel identities: { $identities }, training samples: { $samples }. Anonymous counts for analytics are kept.
