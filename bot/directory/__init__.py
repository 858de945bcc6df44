"""Who and where: communes, hamlets, staff and residents, and the rules to find them."""
