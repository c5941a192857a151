# Reliability: failures people must see, the single-instance lock, the Mini App rate limit, customer data deletion.

reliability-update-failed = This message was not processed because of a server failure ({ $error }): nothing went to the customer. Please send it again.
