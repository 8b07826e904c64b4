variable "environment" { type = string }
variable "cidr_block" { type = string }

resource "aws_vpc" "this" {
  cidr_block = var.cidr_block
  tags       = { Name = "platform-${var.environment}" }
}

resource "aws_subnet" "private" {
  count      = 3
  vpc_id     = aws_vpc.this.id
  cidr_block = cidrsubnet(var.cidr_block, 4, count.index)
  tags       = { Name = "platform-${var.environment}-private-${count.index}" }
}

output "private_subnet_ids" {
  value = aws_subnet.private[*].id
}
